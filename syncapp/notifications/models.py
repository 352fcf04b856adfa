"""Notification targets (where a user's alerts go) and deliveries (one per alert state change and
target: the dedup key, the retry state and the record of what was sent)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..timeutil import UtcDateTime, utcnow

#: apprise: any Apprise URL (mailto://, json://, ntfy://, ...); webhook: a POST signed with HMAC
TARGET_KINDS = ("apprise", "webhook")
#: pending (due at next_attempt_at) → sending (claimed; next_attempt_at is the lease) →
#: delivered, or back to pending after a failure, or failed once the attempts ran out
DELIVERY_STATUSES = ("pending", "sending", "delivered", "failed")


class NotificationTarget(db.Model):
    __tablename__ = "notification_targets"
    __table_args__ = (UniqueConstraint("owner_id", "name", name="uq_notification_targets_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16))  # one of TARGET_KINDS
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    #: the URL with its passwords, tokens and query values masked: what the API and pages show
    url_masked: Mapped[str] = mapped_column(String(2048))
    #: Fernet token (security.encrypt_secret) of a JSON object: {"url": ..., "secret": ...}
    secrets_encrypted: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)


class NotificationDelivery(db.Model):
    """One alert transition sent to one target: unique per pair, so a transition is delivered
    at most once per target however often (and in however many processes) the outbox runs."""

    __tablename__ = "notification_deliveries"
    __table_args__ = (
        UniqueConstraint("transition_id", "target_id", name="uq_notification_deliveries_pair"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    transition_id: Mapped[int] = mapped_column(
        ForeignKey("alert_transitions.id", ondelete="CASCADE"), index=True
    )
    target_id: Mapped[int] = mapped_column(
        ForeignKey("notification_targets.id", ondelete="CASCADE"), index=True
    )
    #: the target's owner, copied so a user's deliveries are listed without a join
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime, index=True)
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
