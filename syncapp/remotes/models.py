"""A configured storage location; its secret settings are stored encrypted."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..timeutil import UtcDateTime, utcnow


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
