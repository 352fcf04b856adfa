"""The scrub's Prometheus metrics, read from the database when Prometheus scrapes (the leader
scrubs, any process answers /metrics): registered on REGISTRY once per process, when this
module is first imported. Store-wide, so shown to administrators' scrapes only.

- `syncapp_scrub_objects_total{integrity}`: objects read back, by verdict, over the kept passes
- `syncapp_scrub_bytes_verified_total`: bytes read back over the kept passes
- `syncapp_scrub_objects_by_integrity{integrity}`: objects as last found (alerts)
- `syncapp_scrub_last_pass_finished_timestamp_seconds`: when the last complete pass ended
- `syncapp_scrub_pass_progress_ratio`: how far the current pass is (0 to 1; 1 when none runs)
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from flask import has_app_context
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from ..extensions import db
from ..metrics import REGISTRY
from ..monitoring.collector import OWNER_SCOPE
from .models import INTEGRITY, ScrubPass, ScrubResult
from .service import progress

log = logging.getLogger(__name__)


def _families() -> dict[str, Metric]:
    return {
        "objects_total": CounterMetricFamily(
            "syncapp_scrub_objects",
            "Stored objects the scrub read back, by verdict (ok, corrupt, missing)",
            labels=["integrity"],
        ),
        "bytes": CounterMetricFamily(
            "syncapp_scrub_bytes_verified", "Bytes the scrub read back and checked"
        ),
        "objects": GaugeMetricFamily(
            "syncapp_scrub_objects_by_integrity",
            "Stored objects by integrity as their last scrub found them",
            labels=["integrity"],
        ),
        "finished": GaugeMetricFamily(
            "syncapp_scrub_last_pass_finished_timestamp_seconds",
            "When the last complete scrub pass finished (Unix time)",
        ),
        "progress": GaugeMetricFamily(
            "syncapp_scrub_pass_progress_ratio",
            "How far the current scrub pass is, by bytes (1 when no pass is under way)",
        ),
    }


class ScrubCollector(Collector):
    def describe(self) -> Iterator[Metric]:
        yield from _families().values()  # names only: registering needs no database

    def collect(self) -> Iterator[Metric]:
        if not has_app_context() or OWNER_SCOPE.get() is not None:
            return
        try:
            families = self._read()
        except SQLAlchemyError as exc:
            db.session.rollback()
            log.warning("scrub metrics unavailable: %s", exc)
            return
        yield from families.values()

    @staticmethod
    def _read() -> dict[str, Metric]:
        families = _families()
        session = db.session
        sums = session.execute(
            select(
                func.coalesce(func.sum(ScrubPass.ok), 0),
                func.coalesce(func.sum(ScrubPass.corrupt), 0),
                func.coalesce(func.sum(ScrubPass.missing), 0),
                func.coalesce(func.sum(ScrubPass.bytes_verified), 0),
            )
        ).one()
        for name, value in zip(INTEGRITY, sums[:3], strict=True):
            families["objects_total"].add_metric([name], int(value))
        families["bytes"].add_metric([], int(sums[3]))
        current = dict.fromkeys(INTEGRITY, 0)
        query = select(ScrubResult.integrity, func.count()).group_by(ScrubResult.integrity)
        current.update({name: int(count) for name, count in session.execute(query)})
        for name, count in current.items():
            families["objects"].add_metric([name], count)
        finished = session.scalar(select(func.max(ScrubPass.finished_at)))
        if finished is not None:
            families["finished"].add_metric([], finished.timestamp())
        running = session.scalar(
            select(ScrubPass).where(ScrubPass.finished_at.is_(None)).order_by(ScrubPass.id)
        )
        families["progress"].add_metric([], progress(running) if running is not None else 1.0)
        session.rollback()  # reads only; the scrape's connection goes back to the pool
        return families


REGISTRY.register(ScrubCollector())
