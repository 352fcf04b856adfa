"""Cordiax's background work: polling the shares of due pollers, snapshot retention, and the
sweep of what killed pushes left (wiring.sweep_debris)."""

from __future__ import annotations

from ..alerts.wiring import recheck
from ..background.work import Job, Runner
from ..settings import settings
from .wiring import poller_owners, run_due_pollers, snapshot_store, sweep_debris


def pollers() -> object:
    ran = run_due_pollers()
    for owner_id in poller_owners(ran):  # a snapshot imported ends its device's silence now
        recheck("cordiax_silence", owner_id)
    return ran


def retention() -> object:
    options = settings().cordiax
    return snapshot_store().apply_retention(options.keep_last, options.keep_daily_days)


JOBS: list[Job] = [
    # Checks often, polls each poller only when its own interval has passed.
    Job("cordiax.pollers", pollers, lambda s: s.cordiax.poll_check_interval),
    Job("cordiax.retention", retention, lambda s: s.cordiax.retention_interval),
    Job("cordiax.debris", sweep_debris, lambda s: s.debris.interval),
]
RUNNERS: list[Runner] = []
