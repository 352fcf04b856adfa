"""Gauges read from the database when Prometheus scrapes: queue length per job, jobs by state.

Registered on REGISTRY once per process, when this module is first imported; every app of the
process shares it and it reads the app of the scrape (`current_app`). Outside an app context, or
before the tables exist, it reports nothing rather than failing the whole scrape.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextvars import ContextVar

from flask import has_app_context
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy.exc import SQLAlchemyError

from ..extensions import db
from ..metrics import REGISTRY
from .service import jobs_by_state, queue_by_job

log = logging.getLogger(__name__)

#: whose jobs a scrape shows: a user id, or None for every job (administrators)
OWNER_SCOPE: ContextVar[int | None] = ContextVar("syncapp_metrics_owner", default=None)


def _queue_family() -> GaugeMetricFamily:
    return GaugeMetricFamily(
        "syncapp_sync_queue_length",
        "Files waiting in a sync job's queue (pending, waiting or failed)",
        labels=["job"],
    )


def _jobs_family() -> GaugeMetricFamily:
    return GaugeMetricFamily("syncapp_sync_jobs", "Sync jobs by state", labels=["state"])


class SyncStateCollector(Collector):
    def describe(self) -> Iterator[GaugeMetricFamily]:
        # Names only: registering must not need a database.
        yield _queue_family()
        yield _jobs_family()

    def collect(self) -> Iterator[GaugeMetricFamily]:
        if not has_app_context():
            return
        owner_id = OWNER_SCOPE.get()
        try:
            queues, states = queue_by_job(owner_id), jobs_by_state(owner_id)
        except SQLAlchemyError as exc:
            db.session.rollback()
            log.warning("sync gauges unavailable: %s", exc)
            return
        queue = _queue_family()
        for job_id, counts in sorted(queues.items()):
            queue.add_metric([str(job_id)], sum(counts.values()))
        jobs = _jobs_family()
        for state, count in states.items():
            jobs.add_metric([state], count)
        yield queue
        yield jobs


COLLECTOR = SyncStateCollector()
REGISTRY.register(COLLECTOR)
