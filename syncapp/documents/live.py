"""Live events of documents on /events: to the owner's sessions and to administrators, whose
Documents page lists everyone's."""

from __future__ import annotations

from .. import events
from ..timeutil import isoformat
from .models import Document


def _publish(name: str, document: Document, payload: dict) -> None:
    _send(name, document.id, document.owner_id, payload)


def _send(name: str, document_id: int, owner_id: int, payload: dict) -> None:
    events.publish(name, {"id": document_id, **payload}, user_id=owner_id, admins=True)


def uploaded(document: Document) -> None:
    _publish(
        "document_uploaded",
        document,
        {
            "filename": document.filename,
            "type": document.type,
            "date": document.document_date.isoformat(),
            "size": document.size,
            "synced_to_nas": document.synced_to_nas,
            "nas_path": document.nas_path,
        },
    )


def sync_result(document: Document, error: str | None) -> None:
    """After a sync attempt was recorded: its copy on the NAS, or why there is none."""
    if error is None:
        payload = {"nas_path": document.nas_path, "synced_at": isoformat(document.synced_at)}
        _publish("document_synced", document, payload)
    else:
        _publish("document_sync_failed", document, {"error": error})


def deleted(document_id: int, owner_id: int) -> None:
    """Takes the numbers, not the row: a deleted row's attributes may no longer load."""
    _send("document_deleted", document_id, owner_id, {})
