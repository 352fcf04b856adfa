"""Sync jobs, their runs, the queue of files still to copy, and the index of what was copied."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Boolean, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..timeutil import UtcDateTime, utcnow

#: idle: waits for its next run · queued: a run was asked for · running · stopped: disabled ·
#: waiting_destination: the destination did not answer, retried with backoff · error: the last run
#: failed for a reason that a retry alone will not fix (source folder gone, bad remote settings)
JOB_STATES = ("idle", "queued", "running", "stopped", "waiting_destination", "error")
RUN_STATUSES = (
    "queued", "running", "completed", "partial", "failed", "waiting_destination", "interrupted",
    "cancelled",
)  # fmt: skip
#: status (and reason) of a job's one summary row: the totals of its runs no longer kept
#: (history.py); it has no start or end, and lists of runs leave it out
RUN_SUMMARY = "summary"
#: pending: to copy in the next run · waiting: was still being written when looked at ·
#: failed: failed max_retries times, copied again only after POST /retry
FILE_STATES = ("pending", "waiting", "failed")


class SyncJob(db.Model):
    __tablename__ = "sync_jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    source_path: Mapped[str] = mapped_column(String(1024))
    #: a local folder, or a folder inside `destination_remote` when that is set
    destination_path: Mapped[str] = mapped_column(String(1024))
    destination_remote_id: Mapped[int | None] = mapped_column(
        ForeignKey("remotes.id", ondelete="RESTRICT"), index=True
    )
    delete_after_sync: Mapped[bool] = mapped_column(Boolean, default=False)
    sync_interval: Mapped[int] = mapped_column(Integer, default=5)  # seconds
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    realtime: Mapped[bool] = mapped_column(Boolean, default=False)
    include: Mapped[list] = mapped_column(JSON, default=list)
    exclude: Mapped[list] = mapped_column(JSON, default=list)
    max_retries: Mapped[int] = mapped_column(Integer, default=3)
    retry_delay: Mapped[float] = mapped_column(Float, default=10.0)
    workers: Mapped[int] = mapped_column(Integer, default=4)

    state: Mapped[str] = mapped_column(String(24), default="idle", index=True)
    last_error: Mapped[str | None] = mapped_column(Text)
    next_run_at: Mapped[datetime | None] = mapped_column(UtcDateTime, index=True)
    last_run_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    #: consecutive runs that could not work (destination unreachable, source missing): backoff
    destination_failures: Mapped[int] = mapped_column(Integer, default=0)
    #: which process runs the job now ("<host>.<pid>") and until when that claim holds
    lease_owner: Mapped[str | None] = mapped_column(String(128))
    lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)


class SyncRun(db.Model):
    __tablename__ = "sync_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("sync_jobs.id", ondelete="CASCADE"), index=True)
    reason: Mapped[str] = mapped_column(String(16))  # schedule, force, realtime, retry, start
    status: Mapped[str] = mapped_column(String(24), default="queued", index=True)
    requested_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    files_scanned: Mapped[int] = mapped_column(Integer, default=0)
    files_copied: Mapped[int] = mapped_column(Integer, default=0)
    files_skipped: Mapped[int] = mapped_column(Integer, default=0)
    files_failed: Mapped[int] = mapped_column(Integer, default=0)
    files_waiting: Mapped[int] = mapped_column(Integer, default=0)
    files_deleted: Mapped[int] = mapped_column(Integer, default=0)
    bytes_copied: Mapped[int] = mapped_column(BigInteger, default=0)
    error: Mapped[str | None] = mapped_column(Text)

    @property
    def duration(self) -> float | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


class SyncFile(db.Model):
    """A file a run found to copy and has not copied yet: the persistent retry queue."""

    __tablename__ = "sync_files"
    __table_args__ = (db.UniqueConstraint("job_id", "path", name="uq_sync_files_job_path"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("sync_jobs.id", ondelete="CASCADE"), index=True)
    path: Mapped[str] = mapped_column(String(1024))  # relative to the source folder
    size: Mapped[int] = mapped_column(BigInteger)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)


class SyncIndexEntry(db.Model):
    """What a job last copied: a source file whose size and mtime still match is not copied."""

    __tablename__ = "sync_index"

    job_id: Mapped[int] = mapped_column(
        ForeignKey("sync_jobs.id", ondelete="CASCADE"), primary_key=True
    )
    path: Mapped[str] = mapped_column(String(1024), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    mtime_ns: Mapped[int] = mapped_column(BigInteger)
    md5: Mapped[str | None] = mapped_column(String(32))
    synced_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
