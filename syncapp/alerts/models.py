"""Alerts and their history (docs/architecture.md, "Integrity and alerts").

An alert is one watched condition about one subject (a backup profile's rhythm, a Cordiax
device's silence, a sync job's failures, the store's free space, ...), found by its `key`. Its
`state` moves ok → firing → resolved (→ firing again); every move is an `AlertTransition`, which
is both the history the pages show and the outbox the notifications deliver from."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..timeutil import UtcDateTime, utcnow

ALERT_STATES = ("ok", "firing", "resolved")


class Alert(db.Model):
    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: what is watched, unique: "<kind>:<subject>", e.g. "backup_rhythm:3:web01:FULL"
    key: Mapped[str] = mapped_column(String(255), unique=True)
    #: backup_rhythm, cordiax_silence, sync_failures, restic_rhythm, free_space, nas_unmounted,
    #: cloud_conflicts, scrub_findings, scheduler_leader
    kind: Mapped[str] = mapped_column(String(32), index=True)
    #: whose alert it is; None for a store-wide condition (administrators see those)
    owner_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    state: Mapped[str] = mapped_column(String(16), default="ok", index=True)
    title: Mapped[str] = mapped_column(String(255))
    detail: Mapped[str] = mapped_column(Text, default="")
    #: the page that shows the subject ("/backups?profile=web01")
    link: Mapped[str] = mapped_column(String(512), default="")
    #: when the current firing began (kept while it fires; None while it never fired)
    first_seen_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    changed_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class AlertTransition(db.Model):
    """One change of an alert's state: the history, and what notifications deliver."""

    __tablename__ = "alert_transitions"

    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"), index=True)
    #: copied from the alert so a delivery needs no join and survives later edits
    owner_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    state: Mapped[str] = mapped_column(String(16))  # "firing" or "resolved"
    title: Mapped[str] = mapped_column(String(255))
    detail: Mapped[str] = mapped_column(Text, default="")
    link: Mapped[str] = mapped_column(String(512), default="")
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)


#: the subjects an expectation can be set for, and what each one's `subject` names
EXPECTATION_KINDS = {
    "backups": "a backup profile",
    "cordiax": "a Cordiax device",
    "syncs": "a sync job's id",
    "restic": "a restic repository's name",
}


class AlertExpectation(db.Model):
    """What a user expects of one of their subjects, over the `alerts` settings' defaults: a
    column left None keeps the default; `watch` false silences the subject's alerts."""

    __tablename__ = "alert_expectations"
    __table_args__ = (
        UniqueConstraint("owner_id", "kind", "subject", name="uq_alert_expectations_subject"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # EXPECTATION_KINDS
    subject: Mapped[str] = mapped_column(String(255))
    watch: Mapped[bool] = mapped_column(Boolean, default=True)
    #: backups: seconds within which any archive, and a FULL one, must arrive; restic (any_every):
    #: seconds within which a repository must receive a new snapshot
    any_every: Mapped[float | None] = mapped_column(Float)
    full_every: Mapped[float | None] = mapped_column(Float)
    #: cordiax: seconds a device may stay silent
    max_silence: Mapped[float | None] = mapped_column(Float)
    #: syncs: failed runs in a row before the job's alert fires
    max_failed_runs: Mapped[int | None] = mapped_column(Integer)
    #: a profile that never sent anything is late one rhythm after its expectation was set
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
