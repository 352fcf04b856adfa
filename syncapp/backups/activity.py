"""What backup clients did, for the dashboard: uploads announced on /events, and the last /verify
result kept per profile.

/verify carries no profile (a client sends the names in its backup folder), so a verification
concerns the profiles whose stored archives it names: each of them keeps its own synced and
mismatched counts, and the request's missing count (a name the server lacks has no profile). A
client whose names all are missing concerns no known profile and is not recorded.

A verification is its owner's: it is announced to them and administrators, and kept under a key
that names the owner (`verification_key`). The table has no owner column yet, so the key is the
profile itself for the install owner (as rows were before owners) and `<owner id>:<profile>` for
everyone else (':' never occurs in a profile, so keys of two owners never meet); a key longer
than the column is not kept (only the dashboard's "last verify" of such a profile is missing).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Integer, Select, String, delete, select
from sqlalchemy.orm import Mapped, mapped_column

from ..events import publish
from ..extensions import db
from ..tenancy import install_owner_id
from ..timeutil import UtcDateTime, isoformat, utcnow
from .models import ARCHIVE_TYPES, BackupArchive

KEY_LENGTH = 64


class BackupVerification(db.Model):
    """The last /verify that concerned an owner's profile (older rows are deleted when one is
    added)."""

    __tablename__ = "backup_verifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: verification_key(owner, profile)
    profile: Mapped[str] = mapped_column(String(KEY_LENGTH), index=True)
    verified_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    sync_status: Mapped[str] = mapped_column(String(16))  # SYNCHRONIZED or OUT_OF_SYNC
    synced: Mapped[int] = mapped_column(Integer, default=0)
    missing: Mapped[int] = mapped_column(Integer, default=0)
    mismatched: Mapped[int] = mapped_column(Integer, default=0)


def _profiles_of(result: dict[str, Any], archives: list[BackupArchive]) -> dict[str, list[int]]:
    """profile -> [synced, mismatched] for the stored archives the verification named."""
    profile_of = {(a.type, a.name): a.profile for a in archives}
    counts: dict[str, list[int]] = {}
    for kind in ARCHIVE_TYPES:
        checked = result["verification"][kind]
        for column, key in enumerate(("synced", "mismatched")):
            for name in checked[key]:
                counts.setdefault(profile_of[(kind, name)], [0, 0])[column] += 1
    return counts


def verification_key(owner_id: int, profile: str, install_owner: int | None) -> str:
    return profile if owner_id == install_owner else f"{owner_id}:{profile}"


def split_key(key: str, install_owner: int | None) -> tuple[int | None, str]:
    """(owner, profile) of a verification_key."""
    owner, sep, profile = key.partition(":")
    return (int(owner), profile) if sep else (install_owner, key)


def record_verification(
    result: dict[str, Any], archives: list[BackupArchive], owner_id: int
) -> None:
    """Keep `result` (report.verify's answer on `owner_id`'s `archives`) as the last verification
    of each profile it concerns, and tell that owner's dashboards and administrators'."""
    missing = sum(len(v["missing_remote"]) for v in result["verification"].values())
    counts = _profiles_of(result, archives)
    now, install_owner = utcnow(), install_owner_id()
    for profile, (synced, mismatched) in counts.items():
        key = verification_key(owner_id, profile, install_owner)
        if len(key) > KEY_LENGTH:
            continue
        row = BackupVerification(
            profile=key,
            verified_at=now,
            sync_status="OUT_OF_SYNC" if mismatched or missing else "SYNCHRONIZED",
            synced=synced,
            missing=missing,
            mismatched=mismatched,
        )
        db.session.add(row)
        db.session.flush()
        db.session.execute(
            delete(BackupVerification).where(
                BackupVerification.profile == key, BackupVerification.id < row.id
            )
        )
    db.session.commit()
    if counts:
        publish(
            "backup_verified",
            {
                "profiles": sorted(counts),
                "sync_status": result["sync_status"],
                "missing": missing,
                "synced": sum(c[0] for c in counts.values()),
                "mismatched": sum(c[1] for c in counts.values()),
            },
            user_id=owner_id,
            admins=True,
        )


def verifications_of(owner_id: int | None) -> Select:
    """The kept verifications of `owner_id` (everyone's for None), as rows."""
    query = select(BackupVerification)
    if owner_id is None:
        return query
    if owner_id == install_owner_id():
        return query.where(BackupVerification.profile.not_like("%:%"))
    return query.where(BackupVerification.profile.startswith(f"{owner_id}:", autoescape=True))


def last_verifications(owner_id: int | None) -> dict[tuple[int | None, str], BackupVerification]:
    """(owner, profile) -> the last verification, of `owner_id` (everyone's for None)."""
    install_owner = install_owner_id()
    rows = db.session.scalars(verifications_of(owner_id).order_by(BackupVerification.id))
    # the newest wins if two raced
    return {split_key(row.profile, install_owner): row for row in rows}


def announce_upload(archive: BackupArchive, owner_email: str | None) -> None:
    """Tell the owner's dashboards and administrators' (naming the owner, whose namespace the
    archive is in: `?owner=` on the seed routes)."""
    publish(
        "backup_uploaded",
        {
            "name": archive.name,
            "type": archive.type,
            "profile": archive.profile,
            "size": archive.size,
            "uploaded_at": isoformat(archive.uploaded_at),
            "owner_id": archive.owner_id,
            "owner": owner_email,
        },
        user_id=archive.owner_id,
        admins=True,
    )
