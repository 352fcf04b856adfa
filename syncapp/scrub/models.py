"""What the scrub found: one row per stored object it has read back (docs/architecture.md,
"Integrity and alerts"). The alerts read the corrupt and missing rows; /list, /verify, the pages
and Prometheus show them beside each object."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..timeutil import UtcDateTime, utcnow

#: the kinds of stored object the scrub reads back, each with its own table of records
OBJECT_KINDS = ("backup", "cordiax", "document", "cloud_version")
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
