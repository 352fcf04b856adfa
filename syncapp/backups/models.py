"""The index of stored archives (the sidecar files are the truth; this table makes listing
cheap) and the last /verify result kept per profile (verifications.py)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    DDL,
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    event,
)
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..timeutil import UtcDateTime, isoformat, utcnow

ARCHIVE_TYPES = ("FULL", "INC", "DIFF")
#: gzip integrity of a stored archive: "unverified" until checked whole, which starts right after
#: the upload's reply (backups/integrity.py; rows of before the check start so too), then
#: "verified" (a complete gzip stream) or "corrupt" (truncated or damaged). The scrub keeps it in
#: step with what it reads back (syncapp/scrub/): "verified" (MD5, SHA-256, gzip and tar intact),
#: "corrupt", or "missing" (indexed, but its file is gone from the store)
INTEGRITY_STATES = ("unverified", "verified", "corrupt", "missing")


class BackupArchive(db.Model):
    __tablename__ = "backup_archives"
    __table_args__ = (
        # per profile: two hosts making full_<same second>.tar.gz under their own profiles
        UniqueConstraint(
            "owner_id", "type", "profile", "name", name="uq_backup_archives_owner_type_profile_name"
        ),
        # an owner's archives in the order /list and /verify give them, without a sort (issue 23)
        Index("ix_backup_archives_owner_listing", "owner_id", "uploaded_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: whose backup this is: the namespace /list, /verify and /download answer from
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    type: Mapped[str] = mapped_column(String(8))
    name: Mapped[str] = mapped_column(String(255))
    profile: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(BigInteger)
    md5: Mapped[str] = mapped_column(String(32))
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
    uploader: Mapped[str] = mapped_column(String(255), default="")
    uploader_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    #: the FULL archive an INC or DIFF builds on (the profile's latest FULL when it arrived)
    base_archive: Mapped[str | None] = mapped_column(String(255))

    integrity: Mapped[str] = mapped_column(
        String(16), default="unverified", server_default="unverified"
    )

    #: where the archive lies in the store: `<TYPE>/<name>` (the seed's layout) for the
    #: server's first administrator, `users/<owner id>/<TYPE>/<name>` for everyone else
    path: Mapped[str] = mapped_column(String(512))

    def sidecar(self, owner_email: str | None) -> dict:
        """The JSON kept beside the archive: enough to rebuild its index row, owner included."""
        return {
            "owner": {"id": self.owner_id, "email": owner_email},
            "name": self.name,
            "type": self.type,
            "profile": self.profile,
            "size": self.size,
            "md5": self.md5,
            "sha256": self.sha256,
            "uploaded_at": isoformat(self.uploaded_at),
            "uploader": self.uploader,
            "base_archive": self.base_archive,
            "integrity": self.integrity,
        }


class BackupVerification(db.Model):
    """The last /verify that concerned an owner's profile (older rows are deleted when one is
    added)."""

    __tablename__ = "backup_verifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    profile: Mapped[str] = mapped_column(String(64), index=True)
    verified_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    sync_status: Mapped[str] = mapped_column(String(16))  # SYNCHRONIZED or OUT_OF_SYNC
    synced: Mapped[int] = mapped_column(Integer, default=0)
    missing: Mapped[int] = mapped_column(Integer, default=0)
    mismatched: Mapped[int] = mapped_column(Integer, default=0)


class BackupListingVersion(db.Model):
    """How many times an owner's archives (or the scrub's results about them) have changed: the
    key under which a process may keep the /list and /verify it computed (listing.py, issue 23).

    Bumped by triggers of the database itself (LISTING_TRIGGERS) on every insert, update and
    delete of `backup_archives` and of the scrub's backup results, in the writing transaction:
    every writer is covered (a route, the scrub, retention, a reindex, a cascade from a deleted
    user, another gunicorn process, a migration). No foreign key: a cascade deleting a user's
    archives bumps the row of a user who is being deleted; the row outlives it, harmless (a
    later user of the same id only ever sees higher versions)."""

    __tablename__ = "backup_listing_versions"

    owner_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    version: Mapped[int] = mapped_column(BigInteger, default=0)


_BUMP = (
    "INSERT INTO backup_listing_versions (owner_id, version) VALUES ({owner}, 1) "
    "ON CONFLICT (owner_id) DO UPDATE SET version = backup_listing_versions.version + 1"
)
#: (name, table, event, condition, owners whose version it bumps) of each trigger
_TRIGGERS = (
    ("backup_listing_archive_insert", "backup_archives", "INSERT", None, ("NEW",)),
    ("backup_listing_archive_update", "backup_archives", "UPDATE", None, ("OLD", "NEW")),
    ("backup_listing_archive_delete", "backup_archives", "DELETE", None, ("OLD",)),
    ("backup_listing_scrub_insert", "scrub_results", "INSERT", "NEW.kind = 'backup'", ("NEW",)),
    (
        "backup_listing_scrub_update",
        "scrub_results",
        "UPDATE",
        "NEW.kind = 'backup' OR OLD.kind = 'backup'",
        ("OLD", "NEW"),
    ),
    ("backup_listing_scrub_delete", "scrub_results", "DELETE", "OLD.kind = 'backup'", ("OLD",)),
)


def _sqlite_trigger(name: str, table: str, when: str, condition: str | None, rows) -> str:
    bumps = "".join(
        "  INSERT INTO backup_listing_versions (owner_id, version) "
        f"SELECT {row}.owner_id, 1 WHERE {row}.owner_id IS NOT NULL "
        "ON CONFLICT (owner_id) DO UPDATE SET version = backup_listing_versions.version + 1;\n"
        for row in rows
    )
    guard = f" WHEN {condition}" if condition else ""
    return (
        f"CREATE TRIGGER IF NOT EXISTS {name} AFTER {when} ON {table} FOR EACH ROW{guard}\n"
        f"BEGIN\n{bumps}END"
    )


_PG_FUNCTION = f"""CREATE OR REPLACE FUNCTION backup_listing_bump() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP <> 'INSERT' AND OLD.owner_id IS NOT NULL THEN
    {_BUMP.format(owner="OLD.owner_id")};
  END IF;
  IF TG_OP <> 'DELETE' AND NEW.owner_id IS NOT NULL THEN
    {_BUMP.format(owner="NEW.owner_id")};
  END IF;
  RETURN NULL;
END
$$"""


def _pg_trigger(name: str, table: str, when: str, condition: str | None, rows) -> str:
    guard = f" WHEN ({condition})" if condition else ""
    return (
        f"CREATE OR REPLACE TRIGGER {name} AFTER {when} ON {table} FOR EACH ROW{guard} "
        "EXECUTE FUNCTION backup_listing_bump()"
    )


def listing_trigger_statements(dialect: str) -> list[str]:
    """The SQL that makes the triggers bumping BackupListingVersion (create_all and the
    migration run the same)."""
    if dialect == "postgresql":
        return [_PG_FUNCTION, *(_pg_trigger(*trigger) for trigger in _TRIGGERS)]
    return [_sqlite_trigger(*trigger) for trigger in _TRIGGERS]


def listing_trigger_drops(dialect: str) -> list[str]:
    if dialect == "postgresql":
        return [
            *(f"DROP TRIGGER IF EXISTS {name} ON {table}" for name, table, *_ in _TRIGGERS),
            "DROP FUNCTION IF EXISTS backup_listing_bump()",
        ]
    return [f"DROP TRIGGER IF EXISTS {name}" for name, *_ in _TRIGGERS]


@event.listens_for(db.metadata, "after_create")
def _create_listing_triggers(target, connection, **kw) -> None:
    if "backup_listing_versions" not in {table.name for table in kw.get("tables") or ()}:
        return  # made before, with its triggers
    for statement in listing_trigger_statements(connection.dialect.name):
        connection.execute(DDL(statement))
