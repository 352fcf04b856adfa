"""What the scrub found: one row per stored object it has read back (docs/architecture.md,
"Integrity and alerts"). The alerts read the corrupt and missing rows; /list, /verify, the pages
and Prometheus show them beside each object."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..timeutil import UtcDateTime, utcnow

#: the kinds of stored object the scrub reads back, each with its own table of records
OBJECT_KINDS = ("backup", "cordiax", "document", "cloud_version", "restic")
#: what a read-back found: the recorded checksum(s) matched, differed, or the object was absent
INTEGRITY = ("ok", "corrupt", "missing")


class ScrubResult(db.Model):
    __tablename__ = "scrub_results"
    __table_args__ = (UniqueConstraint("kind", "object_id", name="uq_scrub_results_object"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    #: the id of the object's row in its feature's table (BackupArchive, CordiaxSnapshot, ...)
    object_id: Mapped[int] = mapped_column(Integer)
    #: whose object it is (None for an object of no user); alerts and pages filter on it
    owner_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    integrity: Mapped[str] = mapped_column(String(16), index=True)
    last_verified_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    #: why it is not ok ("md5 differs", "gzip stream truncated", "absent from the store"), or ""
    detail: Mapped[str] = mapped_column(Text, default="")


#: why a pass ran
TRIGGERS = ("schedule", "request", "cli")


class ScrubPass(db.Model):
    """One pass over every stored object, and where it has got to: the progress a restart
    resumes from (docs/architecture.md, "Integrity and alerts").

    Kinds are read in OBJECT_KINDS' order and each kind's objects by id, so the cursor is the
    kind being read and the last object id done in it; a pass that is not finished is continued
    before any new one starts. Whoever runs it holds a lease on the row (background/claims.py),
    so a leader and `flask scrub run` never read the same pass at once."""

    __tablename__ = "scrub_passes"

    id: Mapped[int] = mapped_column(primary_key=True)
    trigger: Mapped[str] = mapped_column(String(16), default="schedule")
    requested_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    requested_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime, index=True)
    #: the cursor: the kind being read (None before the first object) and its last object done
    kind: Mapped[str | None] = mapped_column(String(32))
    last_object_id: Mapped[int] = mapped_column(Integer, default=0)
    #: what the pass found to read when it started (its progress is measured against it)
    objects_planned: Mapped[int] = mapped_column(Integer, default=0)
    bytes_planned: Mapped[int] = mapped_column(BigInteger, default=0)
    objects_verified: Mapped[int] = mapped_column(Integer, default=0)
    bytes_verified: Mapped[int] = mapped_column(BigInteger, default=0)
    ok: Mapped[int] = mapped_column(Integer, default=0)
    corrupt: Mapped[int] = mapped_column(Integer, default=0)
    missing: Mapped[int] = mapped_column(Integer, default=0)
    #: the last store error that stopped a slice (the pass retries at the next tick), or None
    last_error: Mapped[str | None] = mapped_column(Text)
    lease_owner: Mapped[str | None] = mapped_column(String(255))
    lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
