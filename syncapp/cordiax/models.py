"""Cordiax snapshots (indexed; the files and sidecars are the truth) and share pollers."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..timeutil import UtcDateTime, utcnow

KINDS = ("sqlite", "zip", "encrypted")


class CordiaxSnapshot(db.Model):
    __tablename__ = "cordiax_snapshots"
    __table_args__ = (
        UniqueConstraint("user_id", "device", "version", name="uq_cordiax_snapshot_version"),
        # One copy of each content per device, enforced by the database: two processes
        # receiving the same push at once cannot both keep it (the second insert fails).
        UniqueConstraint("user_id", "device", "sha256", name="uq_cordiax_snapshot_content"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    device: Mapped[str] = mapped_column(String(64), index=True)
    version: Mapped[str] = mapped_column(String(64))  # <UTC timestamp>_<sha8>
    path: Mapped[str] = mapped_column(String(512))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(16))
    encrypted: Mapped[bool] = mapped_column(default=False)
    source: Mapped[str] = mapped_column(String(64), default="socketio")
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)


class CordiaxRefusal(db.Model):
    """A Cordiax client the server refused (bad token, a device it may not push as, a push too
    large...): the desktop client shows none of these, so the administrator must see them.
    One row per (address, device, reason), counted; the table is kept short (refusals.py)."""

    __tablename__ = "cordiax_refusals"
    __table_args__ = (
        UniqueConstraint("address", "device", "reason", name="uq_cordiax_refusal_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    address: Mapped[str] = mapped_column(String(64))
    device: Mapped[str] = mapped_column(String(64))  # as the client named it; may be ""
    reason: Mapped[str] = mapped_column(String(64))  # the sync_error code
    message: Mapped[str] = mapped_column(Text)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    count: Mapped[int] = mapped_column(default=1)
    first_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    last_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)


class CordiaxPoller(db.Model):
    """Watches a file that a Cordiax client in WebDAV or SMB mode overwrites on a share."""

    __tablename__ = "cordiax_pollers"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    remote_id: Mapped[int] = mapped_column(ForeignKey("remotes.id", ondelete="CASCADE"))
    path: Mapped[str] = mapped_column(String(512), default="cordiax_sync")
    filename: Mapped[str] = mapped_column(String(255), default="cordiax_sync.zip")
    device: Mapped[str] = mapped_column(String(64))
    interval: Mapped[int] = mapped_column(default=300)
    enabled: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    last_run: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_result: Mapped[str | None] = mapped_column(String(255))
    last_error: Mapped[str | None] = mapped_column(Text)
    #: what the file looked like when last imported: (etag or mtime, size) then its content hash
    seen_marker: Mapped[str | None] = mapped_column(String(255))
    seen_sha256: Mapped[str | None] = mapped_column(String(64))


class CordiaxPresence(db.Model):
    """Whether a device is connected to /cordiax-sync/ now, and when it was last heard from, for
    the Cordiax page (issue 22). In the database, not in a process's memory: any of several
    server processes may hold the connection. `connections` counts the device's open ones;
    `last_seen_at` moves on connecting, on each push and on leaving (presence.py)."""

    __tablename__ = "cordiax_presence"
    __table_args__ = (UniqueConstraint("user_id", "device", name="uq_cordiax_presence_device"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    device: Mapped[str] = mapped_column(String(64))
    connections: Mapped[int] = mapped_column(default=0)
    address: Mapped[str | None] = mapped_column(String(64))
    connected_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
