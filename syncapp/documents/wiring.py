"""Builds the documents feature's services from the app: the one module of `documents` that
reads `current_app` (its settings, its Remote, the NAS target). Routes, pages, the settings page
and the scheduler's auto-sync get their DocumentStore and NasSync here."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from flask import current_app

from ..extensions import db
from ..failures import Misconfigured
from ..remotes.catalog import find_remote, open_stored
from ..remotes.wiring import feature_remote
from ..settings import settings
from ..storage import Remote
from ..timeutil import utcnow
from ..transfer import RetryPolicy
from . import live, nas_settings
from .nas import MountTarget, NasNotConfigured, NasSync, NoTarget, RemoteTarget, Target
from .store import DocumentStore


def document_store() -> DocumentStore:
    remote = feature_remote("documents", str(Path(current_app.instance_path) / "documents"))
    return DocumentStore(remote, db.session, max_size=settings().documents.max_size)


def _open_named_remote(name: str) -> Remote | None:
    stored = find_remote(name)
    return open_stored(stored) if stored is not None else None


def nas_options() -> nas_settings.NasChoice:
    """The NAS target in force: /settings/nas's (the database) before config.yaml's, read on
    every use so that a change applies without a restart."""
    return nas_settings.effective(db.session, settings().documents)


def nas_target(options: Any) -> Target:
    """The NAS that `options` name (a NasChoice, or the `documents` settings section)."""
    if options.nas_remote:
        return RemoteTarget(options.nas_remote, _open_named_remote)
    if options.nas_mount_path:
        return MountTarget(options.nas_mount_path)
    return NoTarget()


def nas_sync(options: nas_settings.NasChoice | None = None) -> NasSync:
    """The NAS service for this request or job; close it (it may hold an SMB connection).
    `options`: a target to try (the settings page's Test) instead of the one in force."""
    configured = settings()
    options = options or nas_options()
    try:
        return NasSync(
            document_store().remote,
            db.session,
            nas_target(options),
            folder_names=options.nas_folder_names,
            retry=RetryPolicy.from_settings(configured.transfer),
            on_result=live.sync_result,
        )
    except ValueError as exc:
        raise Misconfigured(str(exc)) from None


def auto_sync() -> object:
    """The scheduler's documents.auto_sync job: every user's pending documents."""
    with nas_sync() as service:
        try:
            return service.run(None)
        except NasNotConfigured as exc:
            current_app.logger.warning("documents auto-sync skipped: %s", exc)
            return None


def sweep_debris(now: datetime | None = None) -> list[str]:
    """The scheduler's documents.debris job: what killed uploads left, older than debris.min_age."""
    cutoff = (now or utcnow()) - timedelta(seconds=settings().debris.min_age)
    return document_store().sweep_debris(older_than=cutoff)
