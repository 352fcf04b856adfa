"""The backups' background work: applying the retention policy, and sweeping what killed uploads
and commits left (scheduler.py runs them)."""

from __future__ import annotations

from ..background.work import Job, Runner
from ..settings import Settings, settings
from .retention import RetentionPolicy
from .store import apply_retention
from .wiring import archive_store, sweep_debris


def retention() -> object:
    """Delete the archives the retention policy lets go (none while the store is append-only)."""
    options = settings().backups
    if options.append_only:
        return []
    return apply_retention(archive_store(), RetentionPolicy.from_settings(options))


def retention_interval(configured: Settings) -> float | None:
    """backups.retention_interval, or off while no policy is set or the store is append-only."""
    backups = configured.backups
    if backups.append_only or not RetentionPolicy.from_settings(backups).active:
        return None
    return backups.retention_interval


JOBS: list[Job] = [
    Job("backups.retention", retention, retention_interval),
    Job("backups.debris", sweep_debris, lambda s: s.debris.interval),
]
RUNNERS: list[Runner] = []
