"""The dashboard's "last events" before the page went live: recent history read back from what
the features store, in the shape static/js/dashboard.js gives the live /events it receives
(time, source, event, level, title, detail, size)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from ..backups.models import BackupArchive, BackupVerification
from ..backups.verifications import verifications_of
from ..cloud.models import CloudFile, CloudJob
from ..cordiax.models import CordiaxSnapshot
from ..documents.models import Document
from ..extensions import db
from ..syncs.models import SyncJob, SyncRun
from .dashboard_charts import scoped

#: how many of each kind are read; the page shows the newest EVENTS_SHOWN of them all
PER_SOURCE = 10
EVENTS_SHOWN = 20

RUN_LEVELS = {"completed": "ok", "failed": "error", "running": "info", "cancelled": "info"}


def _event(
    moment, source: str, event: str, level: str, title: str, detail: str, size=None, **marks
):
    """`marks`: key (a run's end: syncs-<job id>) and run_id (a run's start), with which
    dashboard.js folds a repeated run into the line it repeats."""
    return {
        "time": moment,
        "source": source,
        "event": event,
        "level": level,
        "title": title,
        "detail": detail,
        "size": size,
        "key": marks.get("key"),
        "run_id": marks.get("run_id"),
    }


def _backups(owner_id: int | None) -> list[dict[str, Any]]:
    query = scoped(select(BackupArchive), BackupArchive.owner_id, owner_id)
    query = query.order_by(BackupArchive.uploaded_at.desc()).limit(PER_SOURCE)
    events = [
        _event(a.uploaded_at, "backups", "backup_uploaded", "ok", f"{a.type} backup uploaded",
               f"{a.profile} · {a.name}", a.size)
        for a in db.session.scalars(query)
    ]  # fmt: skip
    checks = verifications_of(owner_id).order_by(BackupVerification.id.desc()).limit(PER_SOURCE)
    for check in db.session.scalars(checks):
        profile = check.profile
        good = check.sync_status == "SYNCHRONIZED"
        events.append(
            _event(check.verified_at, "backups", "backup_verified", "ok" if good else "error",
                   "Backups verified" if good else "Backups out of sync",
                   f"{profile}: {check.synced} synced, {check.missing} missing, "
                   f"{check.mismatched} mismatched")
        )  # fmt: skip
    return events


def _snapshots(owner_id: int | None) -> list[dict[str, Any]]:
    query = scoped(select(CordiaxSnapshot), CordiaxSnapshot.user_id, owner_id)
    query = query.order_by(CordiaxSnapshot.received_at.desc()).limit(PER_SOURCE)
    return [
        _event(s.received_at, "cordiax", "cordiax_snapshot", "ok", f"Snapshot of {s.device}",
               f"version {s.version}", s.size)
        for s in db.session.scalars(query)
    ]  # fmt: skip


def _runs(owner_id: int | None) -> list[dict[str, Any]]:
    query = select(SyncRun, SyncJob.name).join(SyncJob, SyncJob.id == SyncRun.job_id)
    query = scoped(query, SyncJob.owner_id, owner_id).where(SyncRun.started_at.is_not(None))
    query = query.order_by(SyncRun.id.desc()).limit(PER_SOURCE)
    events = []
    for run, name in db.session.execute(query).all():
        if run.finished_at is None:
            events.append(
                _event(run.started_at, "syncs", "run_started", "info",
                       f"Sync job {name} started", run.reason, run_id=run.id)
            )  # fmt: skip
            continue
        # a failed run says why; a stretch of equal runs is one row of the history already
        reason = f": {run.error}" if run.error else ""
        events.append(
            _event(run.finished_at, "syncs", "run_finished", RUN_LEVELS.get(run.status, "warning"),
                   f"Sync job {name}: {run.status}{reason}",
                   f"{run.files_copied} copied, {run.files_failed} failed",
                   run.bytes_copied or None, key=f"syncs-{run.job_id}")
        )  # fmt: skip
    return events


def _replications(owner_id: int | None) -> list[dict[str, Any]]:
    query = select(CloudJob, CloudFile.filename).join(CloudFile, CloudFile.id == CloudJob.file_id)
    query = scoped(query, CloudJob.owner_id, owner_id)
    query = query.order_by(CloudJob.created_at.desc()).limit(PER_SOURCE)
    events = []
    for job, filename in db.session.execute(query).all():
        targets = ", ".join(job.targets)
        if not targets:  # stored without a cloud: nothing was replicated, nothing "completed"
            events.append(
                _event(job.created_at, "cloud", "cloud_job_finished", "info",
                       f"{filename} v{job.version} stored", "cloud replication not set up",
                       job.bytes_total)
            )  # fmt: skip
            continue
        if job.finished_at is None:
            events.append(
                _event(job.created_at, "cloud", "cloud_progress", "info",
                       f"Replicating {filename} v{job.version}", targets, job.bytes_total)
            )  # fmt: skip
            continue
        done = job.status == "completed"
        events.append(
            _event(job.finished_at, "cloud", "cloud_job_finished", "ok" if done else "error",
                   f"Replication of {filename} v{job.version}: {job.status}"
                   + ("" if done or not job.error_message else f": {job.error_message}"),
                   targets, job.bytes_total)
        )  # fmt: skip
    return events


def _documents(owner_id: int | None) -> list[dict[str, Any]]:
    query = scoped(select(Document), Document.owner_id, owner_id)
    query = query.order_by(Document.uploaded_at.desc(), Document.id.desc()).limit(PER_SOURCE)
    events = []
    for doc in db.session.scalars(query):
        if doc.synced_to_nas:
            state, level = "copied to the NAS", "ok"
        elif doc.last_error:
            state, level = "NAS copy failed", "error"
        else:
            state, level = "waiting for the NAS", "info"
        events.append(
            _event(doc.uploaded_at, "documents", "document_uploaded", level,
                   f"Document uploaded: {doc.filename}", f"{doc.type} · {state}", doc.size)
        )  # fmt: skip
    return events


def recent_events(owner_id: int | None) -> list[dict[str, Any]]:
    events = [
        *_backups(owner_id),
        *_snapshots(owner_id),
        *_runs(owner_id),
        *_replications(owner_id),
        *_documents(owner_id),
    ]
    events.sort(key=lambda e: e["time"], reverse=True)
    return events[:EVENTS_SHOWN]
