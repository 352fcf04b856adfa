"""A document uploaded by a user, and where its copy on the NAS is."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Boolean, Date, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..timeutil import UtcDateTime, utcnow

DOCUMENT_TYPES = ("receipt", "invoice", "payslip", "other")


class Document(db.Model):
    __tablename__ = "documents"

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    type: Mapped[str] = mapped_column(String(16), index=True)
    #: the year/month folder on the NAS comes from this date
    document_date: Mapped[date] = mapped_column(Date)
    filename: Mapped[str] = mapped_column(String(255))  # as the user's file was named
    content_type: Mapped[str] = mapped_column(String(127), default="application/octet-stream")
    stored_path: Mapped[str] = mapped_column(String(512))  # in the document store
    size: Mapped[int] = mapped_column(BigInteger)
    md5: Mapped[str] = mapped_column(String(32))
    uploaded_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    synced_to_nas: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    synced_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    #: the copy's full path on the NAS (mount path + relative path, or "<remote>:<path>")
    nas_path: Mapped[str | None] = mapped_column(String(1024), index=True)
    last_error: Mapped[str | None] = mapped_column(Text)


class NasSetting(db.Model):
    """The NAS target an administrator set on /settings/nas (one row, id 1). It wins over the
    `documents` section of config.yaml and is read on every use, so a change needs no restart.
    It holds no secret: a share reached with credentials is a stored remote, named here, whose
    secrets the remotes feature keeps encrypted."""

    __tablename__ = "nas_settings"

    id: Mapped[int] = mapped_column(primary_key=True)
    mount_path: Mapped[str | None] = mapped_column(String(1024), nullable=True)
    remote_name: Mapped[str | None] = mapped_column(String(100), nullable=True)
    folder_names: Mapped[str] = mapped_column(String(8), default="en")
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_by: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
