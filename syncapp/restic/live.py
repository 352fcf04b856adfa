"""Live events of restic repositories on /events: to the owner's sessions and to administrators."""

from __future__ import annotations

from ..events import publish
from ..timeutil import isoformat, utcnow


def snapshot_saved(owner_id: int, repository: str, size: int) -> None:
    """restic saved a snapshot file: a backup of the repository just finished."""
    publish(
        "restic_snapshot",
        {"repository": repository, "size": size, "at": isoformat(utcnow()), "owner_id": owner_id},
        user_id=owner_id,
        admins=True,
    )
