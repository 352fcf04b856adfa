"""Live events of backups on /events: to the owner's sessions and to administrators, whose
dashboard shows everyone's."""

from __future__ import annotations

from ..events import publish
from ..timeutil import isoformat
from .models import BackupArchive


def uploaded(archive: BackupArchive, owner_email: str | None) -> None:
    """A new archive, naming its owner (whose namespace it is in: `?owner=` on the seed
    routes)."""
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


def verified(owner_id: int, summary: dict) -> None:
    """A /verify was recorded for the owner's profiles named in `summary`."""
    publish("backup_verified", summary, user_id=owner_id, admins=True)
