"""Builds the backups feature's services from the app: the one module of `backups` that reads
`current_app` (its settings, its Remote, the app handed to background checks). Routes, pages,
the CLI, the scheduler and server start-up all get the archive store here."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import Flask, current_app

from ..extensions import db
from ..project import PROJECT_ROOT
from ..remotes.wiring import feature_remote
from ..settings import settings
from ..storage import Remote
from ..timeutil import utcnow
from . import integrity
from .listing import Answers
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


def kept_answers() -> Answers:
    """The /list and /verify answers this process keeps for this app (one database: another
    app in the process, as tests make them, has other owners under the same ids)."""
    return current_app.extensions.setdefault("backups.answers", Answers(limit=8))


def check_later(archive_id: int) -> None:
    """Queue the gzip check of a just-committed archive, in this app's background thread."""
    integrity.check_later(current_app._get_current_object(), archive_id, archive_store)


def sweep_debris(now: datetime | None = None) -> list[str]:
    """The scheduler's backups.debris job: uploads and commits killed processes left, older than
    debris.min_age (other hosts' too; server start-up removes this host's dead ones at once)."""
    cutoff = (now or utcnow()) - timedelta(seconds=settings().debris.min_age)
    return archive_store().sweep_debris(older_than=cutoff)


def startup(app: Flask) -> None:
    """Clean the debris of interrupted uploads (what dead processes of this host left; the
    leader's backups.debris job sweeps the rest) and rebuild a missing index from the sidecars."""
    with app.app_context():
        store = archive_store()
        store.clean_debris()
        if not store.archives(None) and store.has_files():
            count = store.reindex()
            app.logger.info("rebuilt the backup index from %d sidecar(s)", count)
