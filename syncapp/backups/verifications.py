"""The last /verify result kept per profile, for the dashboard (the rows: models.py).

/verify carries no profile (a client sends the names in its backup folder), so a verification
concerns the profiles whose stored archives it names: each of them keeps its own synced and
mismatched counts, and the request's missing count (a name the server lacks has no profile). A
client whose names all are missing concerns no known profile and is not recorded.

A verification is its owner's: it is announced to them and administrators, and kept per
(owner, profile).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, delete, insert, select

from ..extensions import db
from ..timeutil import utcnow
from . import live
from .models import ARCHIVE_TYPES, BackupVerification


def _profiles_of(result: dict[str, Any], archives: Sequence[Any]) -> dict[str, list[int]]:
    """profile -> [synced, mismatched] for the stored archives the verification named; a
    corrupt archive counts as mismatched (it is not the client's archive any more). A name
    several profiles hold counts for the last of `archives` (ORM objects or rows) holding it."""
    profile_of = getattr(archives, "profile_of", None)  # report.Stored has it made
    if profile_of is None:
        profile_of = {kind: {} for kind in ARCHIVE_TYPES}
        for archive in archives:
            profile_of[archive.type][archive.name] = archive.profile
    counts: dict[str, list[int]] = {}
    for kind in ARCHIVE_TYPES:
        checked = result["verification"][kind]
        for column, key in ((0, "synced"), (1, "mismatched"), (1, "corrupt")):
            # 10,000 names per /verify: counted in C, each profile in the order it first comes
            for profile, count in Counter(map(profile_of[kind].__getitem__, checked[key])).items():
                counts.setdefault(profile, [0, 0])[column] += count
    return counts


def record_verification(result: dict[str, Any], archives: Sequence[Any], owner_id: int) -> None:
    """Keep `result` (report.verify's answer on `owner_id`'s `archives`) as the last verification
    of each profile it concerns, and tell that owner's dashboards and administrators'."""
    missing = sum(len(v["missing_remote"]) for v in result["verification"].values())
    counts = _profiles_of(result, archives)
    now = utcnow()
    if counts:
        # one INSERT of every profile's row, then one DELETE of the rows they replace (older
        # ids): the newest verification of a profile stands if two raced, as one by one did
        rows = [
            {
                "owner_id": owner_id,
                "profile": profile,
                "verified_at": now,
                "sync_status": "OUT_OF_SYNC" if mismatched or missing else "SYNCHRONIZED",
                "synced": synced,
                "missing": missing,
                "mismatched": mismatched,
            }
            for profile, (synced, mismatched) in counts.items()
        ]
        added = db.session.scalars(
            insert(BackupVerification).returning(BackupVerification.id), rows
        ).all()
        db.session.execute(
            delete(BackupVerification).where(
                BackupVerification.owner_id == owner_id,
                BackupVerification.profile.in_(list(counts)),
                BackupVerification.id < min(added),
            )
        )
    db.session.commit()
    if counts:
        live.verified(
            owner_id,
            {
                "profiles": sorted(counts),
                "sync_status": result["sync_status"],
                "missing": missing,
                "synced": sum(c[0] for c in counts.values()),
                "mismatched": sum(c[1] for c in counts.values()),
            },
        )


def verifications_of(owner_id: int | None) -> Select:
    """The kept verifications of `owner_id` (everyone's for None), as rows."""
    query = select(BackupVerification)
    if owner_id is None:
        return query
    return query.where(BackupVerification.owner_id == owner_id)


def last_verifications(owner_id: int | None) -> dict[tuple[int, str], BackupVerification]:
    """(owner, profile) -> the last verification, of `owner_id` (everyone's for None)."""
    rows = db.session.scalars(verifications_of(owner_id).order_by(BackupVerification.id))
    # the newest wins if two raced
    return {(row.owner_id, row.profile): row for row in rows}
