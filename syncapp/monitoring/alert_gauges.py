"""Gauges of the alerts read from the database when Prometheus scrapes (issue 20):

- `syncapp_alerts_firing{kind}`: alerts firing per kind (every kind, 0 included, so that a rule
  on it has a series to compare);
- `syncapp_last_backup_timestamp_seconds{owner,profile,type}`: when each profile's newest archive
  of each type arrived (the missed-backup rule of deploy/prometheus-rules.yml);
- `syncapp_cordiax_last_snapshot_timestamp_seconds{owner,device}`: each device's newest snapshot;
- `syncapp_scheduler_last_run_timestamp_seconds`: when a scheduled job last started in any
  process (no leader: it stops moving).

A user's scrape shows their own alerts, profiles and devices (`owner` is their id); an
administrator's everything, store-wide alerts included (collector.OWNER_SCOPE). Registered once
per process, like collector.py; outside an app context or before the tables exist it reports
nothing."""

from __future__ import annotations

import logging
from collections.abc import Iterator

from flask import has_app_context
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from ..alerts.models import Alert
from ..alerts.registry import KINDS
from ..backups.alerts import last_archives
from ..cordiax.alerts import last_snapshots
from ..extensions import db
from ..metrics import REGISTRY
from ..scheduled_runs import ScheduledRun
from .collector import OWNER_SCOPE

log = logging.getLogger(__name__)


def _families() -> tuple[GaugeMetricFamily, ...]:
    return (
        GaugeMetricFamily("syncapp_alerts_firing", "Alerts firing, per kind", labels=["kind"]),
        GaugeMetricFamily(
            "syncapp_last_backup_timestamp_seconds",
            "When a backup profile's newest archive of a type arrived (Unix time)",
            labels=["owner", "profile", "type"],
        ),
        GaugeMetricFamily(
            "syncapp_cordiax_last_snapshot_timestamp_seconds",
            "When a Cordiax device's newest snapshot arrived (Unix time)",
            labels=["owner", "device"],
        ),
        GaugeMetricFamily(
            "syncapp_scheduler_last_run_timestamp_seconds",
            "When a scheduled job last started in any process (Unix time; still when none leads)",
        ),
    )


class AlertGaugesCollector(Collector):
    def describe(self) -> Iterator[GaugeMetricFamily]:
        yield from _families()  # names only: registering must not need a database

    def collect(self) -> Iterator[GaugeMetricFamily]:
        if not has_app_context():
            return
        owner_id = OWNER_SCOPE.get()
        firing, backups, devices, last_run = _families()
        try:
            query = select(Alert.kind, func.count()).where(Alert.state == "firing")
            if owner_id is not None:
                query = query.where(Alert.owner_id == owner_id)
            counts = dict(db.session.execute(query.group_by(Alert.kind)).all())
            archives = last_archives(db.session)
            snapshots = last_snapshots(db.session)
            newest_run = db.session.scalar(select(func.max(ScheduledRun.started_at)))
        except SQLAlchemyError as exc:
            db.session.rollback()
            log.warning("alert gauges unavailable: %s", exc)
            return
        for kind in KINDS:
            firing.add_metric([kind], counts.get(kind, 0))
        for (owner, profile), by_type in sorted(archives.items()):
            if owner_id is not None and owner != owner_id:
                continue
            for type_, at in sorted(by_type.items()):
                if type_ != "FIRST":
                    backups.add_metric([str(owner), profile, type_], at.timestamp())
        for (owner, device), at in sorted(snapshots.items()):
            if owner_id is None or owner == owner_id:
                devices.add_metric([str(owner), device], at.timestamp())
        if newest_run is not None:
            last_run.add_metric([], newest_run.timestamp())
        yield from (firing, backups, devices, last_run)


COLLECTOR = AlertGaugesCollector()
REGISTRY.register(COLLECTOR)
