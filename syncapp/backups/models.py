"""The index of stored archives (the sidecar files are the truth; this table makes listing
cheap) and the last /verify result kept per profile (verifications.py)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..timeutil import UtcDateTime, isoformat, utcnow

ARCHIVE_TYPES = ("FULL", "INC", "DIFF")
#: gzip integrity of a stored archive: "unverified" until checked whole, which starts right after
#: the upload's reply (backups/integrity.py; rows of before the check start so too), then
#: "verified" (a complete gzip stream) or "corrupt" (truncated or damaged). The scrub keeps it in
#: step with what it reads back (syncapp/scrub/): "verified" (MD5, SHA-256, gzip and tar intact),
#: "corrupt", or "missing" (indexed, but its file is gone from the store)
INTEGRITY_STATES = ("unverified", "verified", "corrupt", "missing")


class BackupArchive(db.Model):
    __tablename__ = "backup_archives"
    __table_args__ = (
        # per profile: two hosts making full_<same second>.tar.gz under their own profiles
        UniqueConstraint(
            "owner_id", "type", "profile", "name", name="uq_backup_archives_owner_type_profile_name"
        ),
        # an owner's archives in the order /list and /verify give them, without a sort (issue 23)
        Index("ix_backup_archives_owner_listing", "owner_id", "uploaded_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: whose backup this is: the namespace /list, /verify and /download answer from
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    type: Mapped[str] = mapped_column(String(8))
    name: Mapped[str] = mapped_column(String(255))
    profile: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(BigInteger)
    md5: Mapped[str] = mapped_column(String(32))
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
    uploader: Mapped[str] = mapped_column(String(255), default="")
    uploader_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    #: the FULL archive an INC or DIFF builds on (the profile's latest FULL when it arrived)
    base_archive: Mapped[str | None] = mapped_column(String(255))

    integrity: Mapped[str] = mapped_column(
        String(16), default="unverified", server_default="unverified"
    )

    #: where the archive lies in the store: `<TYPE>/<name>` (the seed's layout) for the
    #: server's first administrator, `users/<owner id>/<TYPE>/<name>` for everyone else
    path: Mapped[str] = mapped_column(String(512))

    def sidecar(self, owner_email: str | None) -> dict:
        """The JSON kept beside the archive: enough to rebuild its index row, owner included."""
        return {
            "owner": {"id": self.owner_id, "email": owner_email},
            "name": self.name,
            "type": self.type,
            "profile": self.profile,
            "size": self.size,
            "md5": self.md5,
            "sha256": self.sha256,
            "uploaded_at": isoformat(self.uploaded_at),
            "uploader": self.uploader,
            "base_archive": self.base_archive,
            "integrity": self.integrity,
        }


class BackupVerification(db.Model):
    """The last /verify that concerned an owner's profile (older rows are deleted when one is
    added)."""

    __tablename__ = "backup_verifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    profile: Mapped[str] = mapped_column(String(64), index=True)
    verified_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    sync_status: Mapped[str] = mapped_column(String(16))  # SYNCHRONIZED or OUT_OF_SYNC
    synced: Mapped[int] = mapped_column(Integer, default=0)
    missing: Mapped[int] = mapped_column(Integer, default=0)
    mismatched: Mapped[int] = mapped_column(Integer, default=0)
