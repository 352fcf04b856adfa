"""The dashboard's storage figures and chart series, derived from the times and sizes that every
feature already records (no bookkeeping of its own).

Storage over time is what is stored today, by the day it arrived: a deleted archive or snapshot
leaves no trace to plot, so the curve never goes down. Transfers per hour count what reached
the server (backups, snapshots, documents) and what it sent on (sync runs, cloud replication).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select

from ..backups.models import ARCHIVE_TYPES, BackupArchive
from ..cloud.models import CloudFile, CloudJob, CloudVersion
from ..cordiax.models import CordiaxSnapshot
from ..documents.models import Document
from ..extensions import db
from ..syncs.models import SyncJob, SyncRun

STORAGE_DAYS = 30
TRANSFER_HOURS = 24


def cumulative_per_day(
    baseline: int, items: Iterable[tuple[datetime, int]], last_day: date, days: int
) -> list[int]:
    """Bytes stored at the end of each of the `days` UTC days ending with `last_day`:
    `baseline` (what arrived before the first day) plus what arrived up to that day."""
    first = last_day - timedelta(days=days - 1)
    added = [0] * days
    for moment, size in items:
        index = (moment.astimezone(UTC).date() - first).days
        if index < 0:
            baseline += size
        elif index < days:
            added[index] += size
    series, total = [], baseline
    for amount in added:
        total += amount
        series.append(total)
    return series


def per_hour(items: Iterable[tuple[datetime, int]], now: datetime, hours: int) -> list[int]:
    """Bytes per UTC hour for the `hours` hours up to the one holding `now`."""
    start = hour_floor(now) - timedelta(hours=hours - 1)
    buckets = [0] * hours
    for moment, size in items:
        index = int((moment - start).total_seconds() // 3600)
        if 0 <= index < hours:
            buckets[index] += size or 0
    return buckets


def hour_floor(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def scoped(query: Select, column: Any, owner_id: int | None) -> Select:
    return query if owner_id is None else query.where(column == owner_id)


def _rows(time: Any, size: Any, *where: ColumnElement[bool]) -> Select:
    return select(time.label("moment"), size.label("amount")).where(*where)


def stored_sources(owner_id: int | None) -> dict[str, Select]:
    """(time, size) of what each storage type holds."""
    backups = {
        kind: scoped(
            _rows(BackupArchive.uploaded_at, BackupArchive.size, BackupArchive.type == kind),
            BackupArchive.owner_id,
            owner_id,
        )
        for kind in ARCHIVE_TYPES
    }
    cloud = _rows(CloudVersion.created_at, CloudVersion.size).join(
        CloudFile, CloudFile.id == CloudVersion.file_id
    )
    return {
        **backups,
        "cordiax": scoped(
            _rows(CordiaxSnapshot.received_at, CordiaxSnapshot.size),
            CordiaxSnapshot.user_id,
            owner_id,
        ),
        "documents": scoped(
            _rows(Document.uploaded_at, Document.size), Document.owner_id, owner_id
        ),
        "cloud": scoped(cloud, CloudFile.owner_id, owner_id),
    }


def transfer_sources(owner_id: int | None) -> dict[str, Select]:
    stored = stored_sources(owner_id)
    runs = _rows(SyncRun.finished_at, SyncRun.bytes_copied, SyncRun.finished_at.is_not(None))
    replicated = _rows(CloudJob.finished_at, CloudJob.bytes_total, CloudJob.status == "completed")
    return {
        "backups": scoped(
            _rows(BackupArchive.uploaded_at, BackupArchive.size), BackupArchive.owner_id, owner_id
        ),
        "cordiax": stored["cordiax"],
        "documents": stored["documents"],
        "syncs": scoped(
            runs.join(SyncJob, SyncJob.id == SyncRun.job_id), SyncJob.owner_id, owner_id
        ),
        "cloud": scoped(replicated, CloudJob.owner_id, owner_id),
    }


def _since(source: Select, start: datetime) -> list[tuple[datetime, int]]:
    rows = source.subquery()
    return [(t, s) for t, s in db.session.execute(select(rows).where(rows.c.moment >= start)).all()]


def _before(source: Select, start: datetime) -> int:
    rows = source.subquery()
    return int(db.session.scalar(select(func.sum(rows.c.amount)).where(rows.c.moment < start)) or 0)


def storage(owner_id: int | None, now: datetime) -> tuple[dict[str, int], dict[str, Any]]:
    """Bytes stored per type, and the chart of their growth over the last STORAGE_DAYS days."""
    today = now.astimezone(UTC).date()
    start = datetime.combine(today - timedelta(days=STORAGE_DAYS - 1), datetime.min.time(), UTC)
    totals: dict[str, int] = {}
    series = []
    for name, source in stored_sources(owner_id).items():
        recent = _since(source, start)
        baseline = _before(source, start)
        totals[name] = baseline + sum(size for _, size in recent)
        series.append(
            {"key": name, "data": cumulative_per_day(baseline, recent, today, STORAGE_DAYS)}
        )
    labels = [(start.date() + timedelta(days=n)).isoformat() for n in range(STORAGE_DAYS)]
    return totals, {"labels": labels, "series": series}


def transfers(owner_id: int | None, now: datetime) -> dict[str, Any]:
    """Bytes moved per hour over the last TRANSFER_HOURS hours, per kind of transfer."""
    start = hour_floor(now) - timedelta(hours=TRANSFER_HOURS - 1)
    series = [
        {"key": name, "data": per_hour(_since(source, start), now, TRANSFER_HOURS)}
        for name, source in transfer_sources(owner_id).items()
    ]
    labels = [
        (start + timedelta(hours=n)).isoformat().replace("+00:00", "Z")
        for n in range(TRANSFER_HOURS)
    ]
    return {"labels": labels, "series": series}
