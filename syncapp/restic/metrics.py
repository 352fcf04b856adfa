"""Prometheus: requests to the REST protocol by method and object type (counted by this process),
bytes and objects per repository (read from the index when scraped), and when each repository
last received a snapshot (deploy/prometheus-rules.yml: SyncappResticSnapshotMissed).

The gauges follow monitoring's scope: a user's scrape shows their own repositories only."""

from __future__ import annotations

import logging
from collections.abc import Iterator

from flask import has_app_context
from prometheus_client import Counter
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from ..auth.models import User
from ..extensions import db
from ..metrics import REGISTRY
from ..monitoring.collector import OWNER_SCOPE
from .models import ResticObject, ResticRepository

log = logging.getLogger(__name__)

REQUESTS = Counter(
    "syncapp_restic_requests",
    "Requests to restic's REST protocol, by method, object type and status",
    ["method", "type", "status"],
    registry=REGISTRY,
)


def _families() -> tuple[GaugeMetricFamily, GaugeMetricFamily]:
    labels = ["owner", "repository", "type"]
    return (
        GaugeMetricFamily(
            "syncapp_restic_bytes", "Bytes stored per restic repository", labels=labels
        ),
        GaugeMetricFamily("syncapp_restic_objects", "Objects per restic repository", labels=labels),
    )


def _last_snapshot() -> GaugeMetricFamily:
    return GaugeMetricFamily(
        "syncapp_restic_last_snapshot_timestamp_seconds",
        "When each restic repository last received a snapshot file (Unix time)",
        labels=["owner", "repository"],
    )


class RepositoryCollector(Collector):
    def describe(self) -> Iterator[GaugeMetricFamily]:
        yield from _families()  # names only: registering must not need a database
        yield _last_snapshot()

    def collect(self) -> Iterator[GaugeMetricFamily]:
        if not has_app_context():
            return
        owner_id = OWNER_SCOPE.get()
        query = (
            select(
                User.email,
                ResticRepository.name,
                ResticObject.type,
                func.coalesce(func.sum(ResticObject.size), 0),
                func.count(ResticObject.id),
            )
            .join(ResticRepository, ResticRepository.id == ResticObject.repository_id)
            .join(User, User.id == ResticRepository.owner_id)
            .group_by(User.email, ResticRepository.name, ResticObject.type)
        )
        snapshots = (
            select(User.email, ResticRepository.name, ResticRepository.last_snapshot_at)
            .join(User, User.id == ResticRepository.owner_id)
            .where(ResticRepository.last_snapshot_at.is_not(None))
        )
        if owner_id is not None:
            query = query.where(ResticRepository.owner_id == owner_id)
            snapshots = snapshots.where(ResticRepository.owner_id == owner_id)
        try:
            rows = db.session.execute(query).all()
            last = db.session.execute(snapshots).all()
        except SQLAlchemyError as exc:
            db.session.rollback()
            log.warning("restic gauges unavailable: %s", exc)
            return
        size, objects = _families()
        for email, name, kind, total, count in rows:
            size.add_metric([email, name, kind], int(total))
            objects.add_metric([email, name, kind], int(count))
        yield size
        yield objects
        times = _last_snapshot()
        for email, name, at in last:
            times.add_metric([email, name], at.timestamp())
        yield times


REGISTRY.register(RepositoryCollector())
