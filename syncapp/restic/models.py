"""restic repositories and the index of their objects (the store holds the bytes; this table
makes listings, statistics and quotas cheap on any remote, and gives the scrub a row per
object to record what it found)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..timeutil import UtcDateTime, utcnow

#: the folders of a repository, as restic's REST protocol names them ("config" is a file)
OBJECT_TYPES = ("data", "keys", "locks", "snapshots", "index")
CONFIG = "config"


class ResticRepository(db.Model):
    __tablename__ = "restic_repositories"
    __table_args__ = (
        UniqueConstraint("owner_id", "name", name="uq_restic_repositories_owner_name"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: whose repository: /restic/<name>/ resolves in the caller's namespace
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    #: where its objects live, below the store's root (fixed at creation)
    path: Mapped[str] = mapped_column(String(255))
    #: deletes refused except for locks (rest-server --append-only)
    append_only: Mapped[bool] = mapped_column(Boolean, default=False)
    #: bytes this repository may hold; None: only the owner's own quota applies
    quota_bytes: Mapped[int | None] = mapped_column(BigInteger)
    #: a stored remote of its own (set by an administrator); None: the feature's store
    remote_id: Mapped[int | None] = mapped_column(ForeignKey("remotes.id", ondelete="RESTRICT"))
    #: granted to this token only: no other credential reaches it over the protocol
    token_id: Mapped[int | None] = mapped_column(ForeignKey("api_tokens.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    #: when its newest snapshot file was saved (the missed-backup rhythm reads it)
    last_snapshot_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class ResticObject(db.Model):
    """One stored file of a repository: config, or a data/keys/locks/snapshots/index object."""

    __tablename__ = "restic_objects"
    __table_args__ = (
        UniqueConstraint("repository_id", "type", "name", name="uq_restic_objects_repo_type_name"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    repository_id: Mapped[int] = mapped_column(
        ForeignKey("restic_repositories.id", ondelete="CASCADE"), index=True
    )
    type: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
