"""A configured storage location; its secret settings are stored encrypted."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from ..timeutil import UtcDateTime, utcnow

#: what a grant lets a user use a remote for: a sync job's destination, a Cordiax poller's share
GRANT_FEATURES = ("syncs", "cordiax")


class StoredRemote(db.Model):
    __tablename__ = "remotes"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True, index=True)
    kind: Mapped[str] = mapped_column(String(16))
    #: the settings that are not secret, as given
    settings: Mapped[dict] = mapped_column(JSON, default=dict)
    #: Fernet token of a JSON object with the secret settings (see security.encrypt_secret)
    secrets_encrypted: Mapped[str | None] = mapped_column(Text)
    #: names of the secret settings that are set, so the API can say so without decrypting
    secret_names: Mapped[list] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)
    #: which users may use it, for what (administrators need no grant)
    grants: Mapped[list[RemoteGrant]] = relationship(
        cascade="all, delete-orphan", order_by="RemoteGrant.id"
    )


class RemoteGrant(db.Model):
    """A user may use a stored remote for one feature. Administrators need no grant; a user
    without one cannot use the remote, nor learn that it exists."""

    __tablename__ = "remote_grants"
    __table_args__ = (UniqueConstraint("remote_id", "user_id", "feature", name="uq_remote_grants"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    remote_id: Mapped[int] = mapped_column(ForeignKey("remotes.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    #: what the user may use it for: "syncs" (a job's destination) or "cordiax" (a poller's share)
    feature: Mapped[str] = mapped_column(String(16))  # one of GRANT_FEATURES
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
