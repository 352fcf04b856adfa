"""Cordiax's background work: polling the shares of due pollers, and snapshot retention."""

from __future__ import annotations

from ..background.work import Job, Runner
from ..settings import settings
from .wiring import run_due_pollers, snapshot_store


def pollers() -> object:
    return run_due_pollers()


def retention() -> object:
    options = settings().cordiax
    return snapshot_store().apply_retention(options.keep_last, options.keep_daily_days)


JOBS: list[Job] = [
    # Checks often, polls each poller only when its own interval has passed.
    Job("cordiax.pollers", pollers, lambda s: s.cordiax.poll_check_interval),
    Job("cordiax.retention", retention, lambda s: s.cordiax.retention_interval),
]
RUNNERS: list[Runner] = []
