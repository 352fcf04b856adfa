"""Users and their API tokens."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from flask_login import UserMixin
from sqlalchemy import JSON, BigInteger, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from ..extensions import db
from ..timeutil import UtcDateTime, utcnow

ROLES = ("admin", "user")


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(255), unique=True, index=True)
    full_name: Mapped[str] = mapped_column(String(255), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16), default="user")
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    #: bumped by sign-out, a password change and deactivation: every session and remember
    #: cookie issued before carries the old value and stops working
    session_generation: Mapped[int] = mapped_column(default=0, server_default="0")
    #: folders an administrator granted this user for sync jobs, besides the per-user roots
    sync_roots: Mapped[list] = mapped_column(JSON, default=list)
    #: bytes this user may keep across features; None: the server's `quota.per_user`
    quota_bytes: Mapped[int | None] = mapped_column(BigInteger)

    tokens: Mapped[list[ApiToken]] = relationship(
        back_populates="user", cascade="all, delete-orphan"
    )

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password)

    def end_sessions(self) -> None:
        """Once committed, every session and remember cookie issued so far loads nobody.

        An SQL increment, so two changes at once cannot both write the same next value."""
        self.session_generation = User.session_generation + 1

    def begin_sign_in(self) -> None:
        """A new sign-in: the next get_id() carries a nonce of its own, so no two sign-ins
        share a session id or a remember cookie."""
        self._sign_in_nonce = secrets.token_urlsafe(12)

    def get_id(self) -> str:
        """Flask-Login's identifier, kept in the session and the remember cookie:
        "<id>.<session generation>.<sign-in nonce>" (security.load_user checks it)."""
        if getattr(self, "_sign_in_nonce", None) is None:
            self.begin_sign_in()
        return f"{self.id}.{self.session_generation}.{self._sign_in_nonce}"

    def resume_sign_in(self, nonce: str) -> None:
        """The user loaded from a session or remember cookie keeps that sign-in's nonce."""
        self._sign_in_nonce = nonce

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users
        return self.active


class ApiToken(db.Model):
    """A bearer token for scripts and clients; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    prefix: Mapped[str] = mapped_column(String(16))  # shown in lists so people can tell them apart
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    #: what the token may reach (syncapp/tenancy.py): None is everything its user may do; else
    #: entries "<feature>" or "<feature>:<name>", e.g. ["backups:web-01"] for one machine
    scopes: Mapped[list | None] = mapped_column(JSON)

    user: Mapped[User] = relationship(back_populates="tokens")

    @property
    def is_valid(self) -> bool:
        return token_valid(self.revoked_at, self.expires_at)


def token_valid(revoked_at: datetime | None, expires_at: datetime | None) -> bool:
    """A token neither revoked nor expired (also for a token read as plain columns)."""
    if revoked_at is not None:
        return False
    return expires_at is None or expires_at > datetime.now(UTC)
