"""Cloud files, their versions, their copies in each cloud, replication jobs and conflicts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from ..timeutil import UtcDateTime, utcnow

TARGETS = ("google", "azure", "s3")
JOB_STATUSES = ("pending", "running", "completed", "failed")
#: pending: waits for its turn (or its next attempt) · running · completed · failed: gave up after
#: cloud.max_attempts · conflict: the cloud copy changed outside syncapp, see CloudConflict
TARGET_STATUSES = ("pending", "running", "completed", "failed", "conflict")
POLICIES = ("last-write", "keep-both", "manual")


class CloudFile(db.Model):
    __tablename__ = "cloud_files"
    __table_args__ = (db.UniqueConstraint("owner_id", "filename", name="uq_cloud_files_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(127), default="application/octet-stream")
    current_version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    versions: Mapped[list[CloudVersion]] = relationship(
        back_populates="file", order_by="CloudVersion.number", cascade="all, delete-orphan",
        passive_deletes=True,
    )  # fmt: skip
    copies: Mapped[list[CloudCopy]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True
    )


class CloudVersion(db.Model):
    __tablename__ = "cloud_versions"
    __table_args__ = (db.UniqueConstraint("file_id", "number", name="uq_cloud_versions_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    file_id: Mapped[int] = mapped_column(
        ForeignKey("cloud_files.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[int] = mapped_column(Integer)
    size: Mapped[int] = mapped_column(BigInteger)
    md5: Mapped[str] = mapped_column(String(32))
    stored_path: Mapped[str] = mapped_column(String(512))  # in the cloud file store
    #: when this content was last modified: the upload's time, or the cloud's for a version
    #: brought back from a cloud (keep-both, manual "remote")
    modified_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    origin: Mapped[str] = mapped_column(String(32), default="upload")  # or "<target>-conflict"

    file: Mapped[CloudFile] = relationship(back_populates="versions")


class CloudCopy(db.Model):
    """A file's copy in one cloud: where it is, and what it was when syncapp last wrote or saw it
    (a later difference means someone changed it outside syncapp)."""

    __tablename__ = "cloud_copies"
    __table_args__ = (db.UniqueConstraint("file_id", "target", name="uq_cloud_copies_target"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    file_id: Mapped[int] = mapped_column(
        ForeignKey("cloud_files.id", ondelete="CASCADE"), index=True
    )
    target: Mapped[str] = mapped_column(String(16))
    remote_path: Mapped[str] = mapped_column(String(1024))
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    #: the version the cloud should hold, and the one it held at the last sync
    wanted_version: Mapped[int] = mapped_column(Integer)
    synced_version: Mapped[int | None] = mapped_column(Integer)
    synced_md5: Mapped[str | None] = mapped_column(String(32))
    synced_etag: Mapped[str | None] = mapped_column(String(255))
    synced_size: Mapped[int | None] = mapped_column(BigInteger)
    synced_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime, index=True)
    last_error: Mapped[str | None] = mapped_column(Text)
    #: the replication job whose progress this copy reports to
    job_id: Mapped[str | None] = mapped_column(
        ForeignKey("cloud_jobs.id", ondelete="SET NULL"), index=True
    )
    bytes_done: Mapped[int] = mapped_column(BigInteger, default=0)


class CloudJob(db.Model):
    """Seed 004's sync job: replicating one version of a file to the clouds asked for."""

    __tablename__ = "cloud_jobs"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # a UUID, as seed 004's
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    file_id: Mapped[int] = mapped_column(
        ForeignKey("cloud_files.id", ondelete="CASCADE"), index=True
    )
    version: Mapped[int] = mapped_column(Integer)
    targets: Mapped[list] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    bytes_total: Mapped[int] = mapped_column(BigInteger, default=0)
    error_message: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class CloudConflict(db.Model):
    __tablename__ = "cloud_conflicts"

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    file_id: Mapped[int] = mapped_column(
        ForeignKey("cloud_files.id", ondelete="CASCADE"), index=True
    )
    target: Mapped[str] = mapped_column(String(16))
    remote_path: Mapped[str] = mapped_column(String(1024))
    local_version: Mapped[int] = mapped_column(Integer)
    local_size: Mapped[int] = mapped_column(BigInteger)
    local_md5: Mapped[str] = mapped_column(String(32))
    local_modified: Mapped[datetime] = mapped_column(UtcDateTime)
    remote_size: Mapped[int | None] = mapped_column(BigInteger)
    remote_md5: Mapped[str | None] = mapped_column(String(32))
    remote_etag: Mapped[str | None] = mapped_column(String(255))
    remote_modified: Mapped[datetime | None] = mapped_column(UtcDateTime)
    detected_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    resolved: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    policy: Mapped[str | None] = mapped_column(String(16))
    keep: Mapped[str | None] = mapped_column(String(8))  # the side that won: local or remote
    notes: Mapped[str | None] = mapped_column(Text)
    #: what resolving did, for the record: versions created, copies written
    outcome: Mapped[dict | None] = mapped_column(JSON)


class GoogleAccount(db.Model):
    """A user's Google Drive authorisation: the refresh token, encrypted."""

    __tablename__ = "google_accounts"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    refresh_token_encrypted: Mapped[str] = mapped_column(Text)
    scopes: Mapped[str] = mapped_column(Text, default="")
    folder_id: Mapped[str | None] = mapped_column(String(128))  # syncapp's folder in the Drive
    connected_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class OAuthState(db.Model):
    """An authorisation in progress: the callback must bring back this state, for this user."""

    __tablename__ = "oauth_states"

    state: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
