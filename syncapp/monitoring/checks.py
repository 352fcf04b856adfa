"""The checks behind GET /api/v1/health: database, scheduler, sync job destinations.

A check returns a detail string (healthy), or a CheckReport when it has more to say, and raises
with the reason when the dependency failed.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, current_app
from sqlalchemy import select, text

from ..extensions import db
from ..logs import redact
from ..syncs.models import SyncJob
from ..syncs.runner import open_destination
from .service import scheduler_info

#: the longest the destinations check waits for the slowest destination
DESTINATION_TIMEOUT = 10.0
#: a name no job copies: asking for it reaches the destination and changes nothing
PROBE_NAME = ".syncapp-health-probe"


@dataclass
class CheckReport:
    detail: str
    ok: bool = True
    #: per-job results; each carries the job's `owner_id`, who may see it (besides admins)
    jobs: list[dict[str, Any]] = field(default_factory=list)


HealthCheck = Callable[[], "str | CheckReport"]
#: name -> check, in the order they are reported
HEALTH_CHECKS: dict[str, HealthCheck] = {}


def health_check(name: str) -> Callable[[HealthCheck], HealthCheck]:
    def register(func: HealthCheck) -> HealthCheck:
        HEALTH_CHECKS[name] = func
        return func

    return register


@health_check("database")
def check_database() -> str:
    started = time.perf_counter()
    db.session.execute(text("SELECT 1"))
    return f"{db.engine.dialect.name} answered in {(time.perf_counter() - started) * 1000:.1f} ms"


@health_check("scheduler")
def check_scheduler() -> str:
    info = scheduler_info(current_app)
    role, pid = info["role"], info["pid"]
    if role == "disabled":
        return "disabled by configuration (scheduler.enabled is false)"
    if role == "testing":
        return "off under TESTING: tests run the jobs themselves"
    if role == "leader":
        if not (info["scheduler_running"] and info["dispatcher_running"]):
            raise RuntimeError(
                f"this process ({pid}) holds the leader lock but its scheduler or sync "
                "dispatcher has stopped"
            )
        return f"this process ({pid}) leads; scheduler and sync dispatcher running"
    here = "follower" if role == "follower" else "not started"
    if info["leader_elsewhere"]:
        return f"{here} in this process ({pid}); process {info['leader_pid']} leads"
    every = current_app.config["SYNCAPP"]["scheduler"]["leader_retry"]
    retry = f" (this process tries again every {every:g} s)"
    raise RuntimeError(
        "no process holds the scheduler lock: scheduled jobs and syncs do not run"
        + (retry if role == "follower" else "")
    )


def destination_problem(job: SyncJob) -> str | None:
    """Why the job's destination cannot take files now, or None when it can."""
    if job.destination_remote_id is None:
        path = job.destination_path
        if not os.path.isdir(path):
            return f"folder {path} does not exist"
        if not os.access(path, os.W_OK | os.X_OK):
            return f"folder {path} is not writable"
        return None
    destination = open_destination(job)
    try:
        destination.remote.stat(destination.path(PROBE_NAME))
    finally:
        destination.close()
    return None


def _probe(app: Flask, job_id: int) -> str | None:
    with app.app_context():
        try:
            return destination_problem(db.session.get(SyncJob, job_id))
        except Exception as exc:  # every failure is the answer, whatever raised it
            message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            return redact(message)[:300]
        finally:
            db.session.remove()


@health_check("sync_destinations")
def check_destinations() -> CheckReport:
    jobs = db.session.execute(
        select(SyncJob.id, SyncJob.owner_id, SyncJob.name)
        .where(SyncJob.enabled.is_(True))
        .order_by(SyncJob.id)
    ).all()
    if not jobs:
        return CheckReport("no enabled sync jobs")
    app = current_app._get_current_object()
    # In parallel and with a deadline: one dead server must not hold up the whole answer.
    pool = ThreadPoolExecutor(min(8, len(jobs)), "health-destination")
    futures = {pool.submit(_probe, app, job.id): job for job in jobs}
    done, _ = wait(futures, timeout=DESTINATION_TIMEOUT)
    pool.shutdown(wait=False, cancel_futures=True)
    results = []
    for future, job in futures.items():
        late = f"no answer within {DESTINATION_TIMEOUT:g} s"
        problem = future.result() if future in done else late
        results.append(
            {
                "job_id": job.id,
                "name": job.name,
                "owner_id": job.owner_id,
                "status": "error" if problem else "ok",
                "detail": problem or "reachable",
            }
        )
    failing = sum(result["status"] == "error" for result in results)
    detail = f"{len(jobs) - failing} of {len(jobs)} destination(s) reachable"
    return CheckReport(detail, ok=not failing, jobs=results)
