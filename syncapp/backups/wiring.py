"""Builds the backups feature's services from the app: the one module of `backups` that reads
`current_app` (its settings, its Remote, the app handed to background checks). Routes, pages,
the CLI, the scheduler and server start-up all get the archive store here."""

from __future__ import annotations

from flask import Flask, current_app

from ..extensions import db
from ..project import PROJECT_ROOT
from ..remotes.wiring import feature_remote
from ..settings import settings
from ..storage import Remote
from . import integrity
from .store import ArchiveStore


def archive_remote() -> Remote:
    return feature_remote("backups", str(PROJECT_ROOT / "remote_backups"))


def archive_store() -> ArchiveStore:
    options = settings().backups
    return ArchiveStore(
        archive_remote(),
        db.session,
        max_size=options.max_size,
        profile_quota=options.profile_quota,
    )


def check_later(archive_id: int) -> None:
    """Queue the gzip check of a just-committed archive, in this app's background thread."""
    integrity.check_later(current_app._get_current_object(), archive_id, archive_store)


def startup(app: Flask) -> None:
    """Clean the debris of interrupted uploads and rebuild a missing index from the sidecars."""
    with app.app_context():
        store = archive_store()
        store.clean_debris()
        if not store.archives(None) and store.has_files():
            count = store.reindex()
            app.logger.info("rebuilt the backup index from %d sidecar(s)", count)
