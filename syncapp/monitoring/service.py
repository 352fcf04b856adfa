"""What the service reports about itself: scheduler leadership, jobs by state, sync metrics.

Counts come from the database, so every process answers the same and a restart loses nothing;
`owner_id` scopes them to one user's jobs (None: every job, for administrators).
"""

from __future__ import annotations

import os
import time
from typing import Any

from flask import Flask
from sqlalchemy import Select, func, select

from ..background.leader import leader_elsewhere
from ..extensions import db
from ..project import __version__
from ..scheduled_runs import latest_by_job
from ..settings import settings
from ..syncs.history import LISTED
from ..syncs.models import FILE_STATES, JOB_STATES, RUN_STATUSES, SyncFile, SyncJob, SyncRun
from ..syncs.wiring import DISPATCHER
from ..timeutil import isoformat, utcnow

#: when this process loaded syncapp (gunicorn loads the app as its worker starts)
STARTED_AT = utcnow()
_STARTED_MONOTONIC = time.monotonic()


# --- the scheduler ---------------------------------------------------------------------------


def scheduler_info(app: Flask) -> dict[str, Any]:
    """This process's part in the scheduler: leader, follower, not started, or off."""
    enabled = settings(app).scheduler.enabled
    state = app.extensions.get("syncapp.scheduler")
    leader = bool(state and state["lock"].held)
    scheduler = state.get("scheduler") if state else None
    dispatcher = app.extensions.get(DISPATCHER)
    thread = getattr(dispatcher, "thread", None)
    if not enabled:
        role = "disabled"
    elif app.testing:
        role = "testing"
    elif leader:
        role = "leader"
    else:
        role = "follower" if state is not None else "not_started"
    elsewhere, leader_pid = (
        leader_elsewhere(app) if role in ("follower", "not_started") else (False, None)
    )
    return {
        "role": role,
        "enabled": enabled and not app.testing,
        "leader": leader,
        "scheduler_running": bool(scheduler is not None and scheduler.running),
        "dispatcher_running": bool(thread is not None and thread.is_alive()),
        "pid": os.getpid(),
        "leader_elsewhere": elsewhere,
        "leader_pid": os.getpid() if leader else leader_pid,
    }


# --- jobs ------------------------------------------------------------------------------------


def scoped_job_ids(owner_id: int | None) -> Select:
    query = select(SyncJob.id)
    return query if owner_id is None else query.where(SyncJob.owner_id == owner_id)


def jobs_by_state(owner_id: int | None) -> dict[str, int]:
    query = select(SyncJob.state, func.count()).group_by(SyncJob.state)
    if owner_id is not None:
        query = query.where(SyncJob.owner_id == owner_id)
    return {state: 0 for state in JOB_STATES} | dict(db.session.execute(query).all())


def queue_by_job(owner_id: int | None) -> dict[int, dict[str, int]]:
    """job id -> files waiting in its queue, by state (every job in scope, empty ones too)."""
    job_ids = db.session.scalars(scoped_job_ids(owner_id))
    found = {job_id: dict.fromkeys(FILE_STATES, 0) for job_id in job_ids}
    rows = db.session.execute(
        select(SyncFile.job_id, SyncFile.state, func.count())
        .where(SyncFile.job_id.in_(scoped_job_ids(owner_id)))
        .group_by(SyncFile.job_id, SyncFile.state)
    )
    for job_id, state, count in rows:
        found.setdefault(job_id, {})[state] = count
    return found


def service_status(app: Flask, owner_id: int | None) -> dict[str, Any]:
    by_state = jobs_by_state(owner_id)
    return {
        "status": "running",
        "version": __version__,
        "pid": os.getpid(),
        "started_at": isoformat(STARTED_AT),
        "uptime_seconds": round(time.monotonic() - _STARTED_MONOTONIC, 3),
        "time": isoformat(utcnow()),
        "scheduler": scheduler_info(app),
        "jobs_total": sum(by_state.values()),
        "jobs_by_state": by_state,
        "queue_length": sum(sum(q.values()) for q in queue_by_job(owner_id).values()),
        # Administrators: each scheduled job's last run, and which process (host, pid) ran it.
        **({"scheduled_jobs": latest_by_job()} if owner_id is None else {}),
    }


# --- metrics ---------------------------------------------------------------------------------

_SUMMED = ("files_copied", "files_failed", "files_skipped", "files_deleted", "bytes_copied")


def _run_sums(owner_id: int | None) -> dict[int, dict[str, int]]:
    columns = [func.coalesce(func.sum(getattr(SyncRun, name)), 0) for name in _SUMMED]
    rows = db.session.execute(
        select(SyncRun.job_id, *columns)
        .where(SyncRun.job_id.in_(scoped_job_ids(owner_id)))
        .group_by(SyncRun.job_id)
    )
    return {row[0]: dict(zip(_SUMMED, map(int, row[1:]), strict=True)) for row in rows}


def _runs_by_status(owner_id: int | None) -> dict[int, dict[str, int]]:
    found: dict[int, dict[str, int]] = {}
    rows = db.session.execute(
        select(SyncRun.job_id, SyncRun.status, func.count())
        .where(SyncRun.job_id.in_(scoped_job_ids(owner_id)), LISTED)
        .group_by(SyncRun.job_id, SyncRun.status)
    )
    for job_id, status, count in rows:
        found.setdefault(job_id, dict.fromkeys(RUN_STATUSES, 0))[status] = count
    return found


def _last_finished_runs(owner_id: int | None) -> dict[int, SyncRun]:
    latest = (
        select(func.max(SyncRun.id))
        .where(SyncRun.job_id.in_(scoped_job_ids(owner_id)), SyncRun.finished_at.is_not(None))
        .group_by(SyncRun.job_id)
    )
    runs = db.session.scalars(select(SyncRun).where(SyncRun.id.in_(latest)))
    return {run.job_id: run for run in runs}


def job_metrics(owner_id: int | None) -> dict[str, Any]:
    """Per job and in total: files and bytes copied, failures, the last run's duration and the
    queue length, summed over every run of the job (those no longer kept too: syncs/history.py),
    and the runs its history holds, by status."""
    query = select(SyncJob).order_by(SyncJob.id)
    if owner_id is not None:
        query = query.where(SyncJob.owner_id == owner_id)
    sums, runs = _run_sums(owner_id), _runs_by_status(owner_id)
    last, queues = _last_finished_runs(owner_id), queue_by_job(owner_id)
    jobs = []
    for job in db.session.scalars(query):
        run = last.get(job.id)
        queue = queues.get(job.id, {})
        jobs.append(
            {
                "job_id": job.id,
                "name": job.name,
                "state": job.state,
                **(sums.get(job.id) or dict.fromkeys(_SUMMED, 0)),
                "runs": runs.get(job.id) or dict.fromkeys(RUN_STATUSES, 0),
                "last_run_status": run.status if run else None,
                "last_run_finished_at": isoformat(run.finished_at) if run else None,
                "last_run_duration": run.duration if run else None,
                "queue_length": sum(queue.values()),
                "queue": queue,
            }
        )
    totals: dict[str, Any] = {name: sum(job[name] for job in jobs) for name in _SUMMED}
    totals["jobs"] = len(jobs)
    totals["queue_length"] = sum(job["queue_length"] for job in jobs)
    totals["runs"] = {s: sum(job["runs"][s] for job in jobs) for s in RUN_STATUSES}
    return {"time": isoformat(utcnow()), "jobs": jobs, "totals": totals}
