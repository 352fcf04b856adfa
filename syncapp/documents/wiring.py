"""Builds the documents feature's services from the app: the one module of `documents` that
reads `current_app` (its settings, its Remote, the NAS target). Routes, pages, the settings page
and the scheduler's auto-sync get their DocumentStore and NasSync here."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import current_app

from ..errors import ApiError
from ..extensions import db
from ..remotes.catalog import find_remote, open_stored
from ..remotes.wiring import feature_remote
from ..storage import Remote
from ..transfer import RetryPolicy
from . import live
from .nas import MountTarget, NasNotConfigured, NasSync, NoTarget, RemoteTarget, Target
from .store import DocumentStore


def options() -> dict[str, Any]:
    """The `documents` settings section."""
    return current_app.config["SYNCAPP"]["documents"]


def document_store() -> DocumentStore:
    remote = feature_remote("documents", str(Path(current_app.instance_path) / "documents"))
    return DocumentStore(remote, db.session, max_size=options()["max_size"])


def _open_named_remote(name: str) -> Remote | None:
    stored = find_remote(name)
    return open_stored(stored) if stored is not None else None


def nas_target(settings: dict) -> Target:
    if settings["nas_remote"]:
        return RemoteTarget(settings["nas_remote"], _open_named_remote)
    if settings["nas_mount_path"]:
        return MountTarget(settings["nas_mount_path"])
    return NoTarget()


def nas_sync() -> NasSync:
    """The NAS service for this request or job; close it (it may hold an SMB connection)."""
    settings = current_app.config["SYNCAPP"]
    documents = settings["documents"]
    try:
        return NasSync(
            document_store().remote,
            db.session,
            nas_target(documents),
            folder_names=documents["nas_folder_names"],
            retry=RetryPolicy.from_settings(settings["transfer"]),
            on_result=live.sync_result,
        )
    except ValueError as exc:
        raise ApiError(str(exc), status=500, code="misconfigured") from None


def auto_sync() -> object:
    """The scheduler's documents.auto_sync job: every user's pending documents."""
    with nas_sync() as service:
        try:
            return service.run(None)
        except NasNotConfigured as exc:
            current_app.logger.warning("documents auto-sync skipped: %s", exc)
            return None
