"""Builds the sync jobs feature's services from the app: the one module of `syncs` that reads
`current_app` for them. The SyncEngine (its settings, the job's source and destination, the live
events and metrics hooks) for the runner and the CLI, and this process's dispatcher, woken when
a run is requested."""

from __future__ import annotations

from functools import partial

from flask import current_app

from ..extensions import db
from ..settings import settings
from ..storage.base import owner_tag
from ..transfer import RetryPolicy
from . import live, metrics
from .destinations import open_destination
from .engine import Outcome, SyncEngine
from .folders import open_source
from .models import SyncJob

#: where start_dispatcher (runner.py) keeps this process's dispatcher in `app.extensions`
DISPATCHER = "syncapp.sync_dispatcher"


def rate_limit() -> str:
    """The limit on each caller's requests to the sync jobs API (`ratelimit.syncs`)."""
    return settings().ratelimit.syncs


def _count(outcome: Outcome, job: SyncJob) -> None:
    metrics.record_outcome(job.id, outcome.status, outcome.file.size)


def build_engine(owner: str | None = None, **hooks) -> SyncEngine:
    configured = settings()
    return SyncEngine(
        db.session,
        open_source,
        # the run's first remote I/O (listing the destination) happens with no database
        # connection held: a destination that accepts and never answers must not hold one
        partial(open_destination, release_database=True),
        retry=RetryPolicy.from_settings(configured.transfer),
        owner=owner or owner_tag(),
        batch_size=configured.sync.batch_size,
        max_backoff=configured.sync.max_destination_backoff,
        keep_runs=configured.sync.keep_runs,
        on_event=hooks.pop("on_event", live.announce),
        on_outcome=hooks.pop("on_outcome", _count),
    )


def wake_dispatcher() -> None:
    """Make this process's dispatcher (if it runs one: the scheduler leader) look for due
    jobs now."""
    dispatcher = current_app.extensions.get(DISPATCHER)
    if dispatcher is not None:
        dispatcher.wake()
