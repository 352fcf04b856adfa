"""Creating, changing and deleting sync jobs, with every path checked (see paths.py)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import bindparam, delete, func, select

from ..auth.models import User
from ..extensions import db
from ..failures import BadRequest, Conflict, NotFound
from ..remotes.catalog import usable_remote
from ..remotes.models import StoredRemote
from ..settings import settings
from .folders import check_source, locate_for, prepare_destination
from .history import LISTED, files_synced
from .models import SyncFile, SyncIndexEntry, SyncJob, SyncRun
from .paths import check_not_overlapping, check_remote_folder
from .runner import cancel_local

#: changing one of these points the job somewhere else: what it copied before no longer counts
_LOCATION = ("source_path", "destination_path", "destination_remote_id")


def get_job(job_id: int, owner_id: int | None) -> SyncJob:
    """The job, if `owner_id` (None: an administrator, who sees all) may see it; else 404."""
    job = db.session.get(SyncJob, job_id)
    if job is None or (owner_id is not None and job.owner_id != owner_id):
        raise NotFound(f"No sync job with id {job_id}.", code="sync_not_found")
    return job


#: GET /api/v1/syncs's two statements, built once: building the select and its cache key on
#: every call was a fifth of that small request's CPU (py-spy, bench/api_rate.py).
_ALL_JOBS = select(SyncJob).order_by(SyncJob.id)
_OWNERS_JOBS = _ALL_JOBS.where(SyncJob.owner_id == bindparam("owner_id"))


def list_jobs(owner_id: int | None) -> list[SyncJob]:
    if owner_id is None:
        return list(db.session.scalars(_ALL_JOBS))
    return list(db.session.scalars(_OWNERS_JOBS, {"owner_id": owner_id}))


def remote_name(job: SyncJob) -> str | None:
    if job.destination_remote_id is None:
        return None
    remote = db.session.get(StoredRemote, job.destination_remote_id)
    return remote.name if remote is not None else None


def _defaults() -> dict[str, Any]:
    options = settings().sync
    return {
        "sync_interval": options.default_interval,
        "max_retries": options.max_retries,
        "retry_delay": float(options.retry_delay),
        "workers": options.default_workers,
        "delete_after_sync": False,
        "enabled": True,
        "realtime": False,
        "include": [],
        "exclude": [],
    }


def _resolve_locations(values: dict[str, Any], job: SyncJob | None, owner: User) -> dict[str, Any]:
    """Check source, destination and remote as they will be after the change, against the
    owner's folders and remotes (an administrator editing a user's job acts within the user's).
    Everything that needs no disk is checked first; then the disk, and the destination is
    marked as the share (folders.py)."""
    resolved: dict[str, Any] = {}
    source = locate_for(
        owner, values.get("source_path", job.source_path if job else None), "source_path"
    )
    if "destination_remote" in values:
        name = values["destination_remote"]
        remote = usable_remote(name, owner, "syncs") if name else None
        if name and remote is None:  # unknown, or not the owner's to use: the same answer
            raise BadRequest(
                f"No stored remote named {name!r}.",
                code="unknown_remote",
                field="destination_remote",
            )
        remote_id = remote.id if remote else None
    else:
        remote_id = job.destination_remote_id if job else None
    resolved["destination_remote_id"] = remote_id
    destination = values.get("destination_path", job.destination_path if job else None)
    if remote_id is None:
        local = locate_for(owner, destination, "destination_path")
        check_not_overlapping(source.path, local.path)
        check_source(source)
        prepare_destination(local)
        resolved["destination_path"] = local.path
    else:
        resolved["destination_path"] = check_remote_folder(destination, "destination_path")
        check_source(source)
    resolved["source_path"] = source.path
    return resolved


def _check_name(owner_id: int, name: str, job: SyncJob | None) -> None:
    query = select(SyncJob.id).where(SyncJob.owner_id == owner_id, SyncJob.name == name)
    existing = db.session.scalar(query)
    if existing is not None and (job is None or existing != job.id):
        raise Conflict(f"You have a sync job named {name!r} already.", code="sync_exists")


def create_job(owner_id: int, values: dict[str, Any]) -> SyncJob:
    _check_name(owner_id, values["name"], None)
    owner = db.session.get(User, owner_id)
    fields = {**_defaults(), **values, **_resolve_locations(values, None, owner)}
    fields.pop("destination_remote", None)
    job = SyncJob(owner_id=owner_id, **fields)
    job.state = "idle" if job.enabled else "stopped"
    db.session.add(job)
    db.session.commit()
    return job


def update_job(job: SyncJob, values: dict[str, Any]) -> SyncJob:
    if "name" in values:
        _check_name(job.owner_id, values["name"], job)
    changes = {k: v for k, v in values.items() if k != "destination_remote"}
    if {"source_path", "destination_path", "destination_remote"} & set(values):
        changes.update(_resolve_locations(values, job, db.session.get(User, job.owner_id)))
    moved = any(getattr(job, key) != changes[key] for key in _LOCATION if key in changes)
    interval = job.sync_interval
    for key, value in changes.items():
        setattr(job, key, value)
    if moved:
        forget_progress(job)
    if job.sync_interval != interval:
        _reschedule(job, interval)
    if "enabled" in values and job.state in ("idle", "stopped", "error", "queued"):
        job.state = "idle" if job.enabled else "stopped"
    db.session.commit()
    return job


def _reschedule(job: SyncJob, old_interval: int) -> None:
    """The next run follows the new interval from the end of the last run (due at once when that
    time has passed). A run queued or running keeps its turn (a running one schedules the next
    with the new interval), and so does the backoff after a run that could not work."""
    if job.next_run_at is not None and job.state in ("idle", "stopped"):
        job.next_run_at += timedelta(seconds=job.sync_interval - old_interval)


def forget_progress(job: SyncJob) -> None:
    """The job now copies elsewhere: everything is compared afresh at its next run."""
    db.session.execute(delete(SyncIndexEntry).where(SyncIndexEntry.job_id == job.id))
    db.session.execute(delete(SyncFile).where(SyncFile.job_id == job.id))


def set_enabled(job: SyncJob, enabled: bool) -> SyncJob:
    job.enabled = enabled
    if not enabled:
        cancel_local(job.id)
        db.session.execute(
            SyncRun.__table__.update()
            .where(SyncRun.job_id == job.id, SyncRun.status == "queued")
            .values(status="cancelled")
        )
    if job.state != "running":
        job.state = "idle" if enabled else "stopped"
    db.session.commit()
    return job


def delete_job(job: SyncJob) -> None:
    if job.lease_owner is not None:
        raise Conflict(
            f"Sync job {job.id} is running: stop it, then delete it.", code="sync_running"
        )
    db.session.delete(job)
    db.session.commit()


def requeue_failed(job: SyncJob) -> int:
    rows = db.session.scalars(
        select(SyncFile).where(SyncFile.job_id == job.id, SyncFile.state != "pending")
    ).all()
    for row in rows:
        row.state, row.attempts = "pending", 0
    db.session.commit()
    return len(rows)


def job_status(job: SyncJob) -> dict[str, Any]:
    counts = dict(
        db.session.execute(
            select(SyncFile.state, func.count())
            .where(SyncFile.job_id == job.id)
            .group_by(SyncFile.state)
        ).all()
    )
    runs = db.session.scalars(
        select(SyncRun)
        .where(SyncRun.job_id == job.id, SyncRun.status != "queued", LISTED)
        .order_by(SyncRun.id.desc())
        .limit(2)
    ).all()
    current = next((r for r in runs if r.status == "running"), None)
    last = next((r for r in runs if r.status != "running"), None)
    in_index = db.session.scalar(
        select(func.count()).select_from(SyncIndexEntry).where(SyncIndexEntry.job_id == job.id)
    )
    return {
        "id": job.id,
        "name": job.name,
        "state": job.state,
        "enabled": job.enabled,
        "running": current is not None,
        "current_run": current,
        "last_run": last,
        "pending_files": counts.get("pending", 0) + counts.get("waiting", 0),
        "failed_files": counts.get("failed", 0),
        "files_synced": files_synced(db.session, job.id, in_index),
        "next_run_at": job.next_run_at,
        "last_error": job.last_error,
    }
