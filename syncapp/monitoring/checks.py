"""The checks behind GET /api/v1/health: database and scheduler (liveness, on every call) and
sync job destinations (in the background, cached, shown to their owners).

A check returns a detail string (healthy), or a CheckReport when it has more to say, and raises
with the reason when the dependency failed.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, current_app
from sqlalchemy import select, text

from ..extensions import db
from ..logs import redact
from ..settings import settings
from ..syncs.destinations import open_destination
from ..syncs.models import SyncJob
from .service import scheduler_info

log = logging.getLogger(__name__)

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


def run_check(name: str, check: HealthCheck) -> dict[str, Any]:
    """One check's result: {status: ok|error, detail[, jobs]}; never raises."""
    try:
        outcome = check()
    except Exception as exc:  # any failure of a dependency is reported, never raised
        db.session.rollback()
        current_app.logger.warning("health check %s failed: %s", name, exc)
        return {"status": "error", "detail": str(exc).splitlines()[0][:300]}
    if isinstance(outcome, CheckReport):
        if not outcome.ok:
            current_app.logger.warning("health check %s failed: %s", name, outcome.detail)
        status = "ok" if outcome.ok else "error"
        return {"status": status, "detail": outcome.detail, "jobs": outcome.jobs}
    return {"status": "ok", "detail": outcome}


def liveness() -> dict[str, Any]:
    """What GET /api/v1/health's status code says, with the cause: {status: ok|error, failing:
    [{check, detail}]} (the dashboard's headline; issue 22)."""
    results = {name: run_check(name, check) for name, check in HEALTH_CHECKS.items()}
    failing = [
        {"check": name, "detail": result.get("detail") or ""}
        for name, result in results.items()
        if result["status"] != "ok"
    ]
    return {"status": "error" if failing else "ok", "failing": failing}


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
    every = settings().scheduler.leader_retry
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
    destination = open_destination(job, release_database=True)
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


def probe_destinations(app: Flask) -> list[dict[str, Any]]:
    """Every enabled job's destination, probed in parallel with a deadline: one dead server
    must not hold up the others. Runs in the background (DestinationWatch), never in a
    request: a public caller must not be able to make this process reach out."""
    with app.app_context():
        try:
            jobs = db.session.execute(
                select(SyncJob.id, SyncJob.owner_id, SyncJob.name)
                .where(SyncJob.enabled.is_(True))
                .order_by(SyncJob.id)
            ).all()
        finally:
            db.session.remove()  # no connection held while the probes wait on remotes
    if not jobs:
        return []
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
    return results


class DestinationWatch:
    """The last destination results of this app, refreshed every
    monitoring.destination_check_interval seconds by a background thread (not under TESTING:
    tests call refresh() themselves)."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.results: list[dict[str, Any]] | None = None
        self.checked_at: float | None = None
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        #: set when the app is torn down (stop_destination_watch): the thread ends, none starts
        self._stop = threading.Event()

    @classmethod
    def of(cls, app: Flask) -> DestinationWatch:
        return app.extensions.setdefault("syncapp.destination_watch", cls(app))

    def refresh(self) -> list[dict[str, Any]]:
        results = probe_destinations(self.app)
        with self._lock:
            self.results, self.checked_at = results, time.monotonic()
        return results

    def ensure_running(self) -> None:
        if self.app.config.get("TESTING"):
            return
        with self._lock:
            if self._stop.is_set():
                return
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="health-destinations", daemon=True
                )
                self._thread.start()

    def stop(self, timeout: float = DESTINATION_TIMEOUT + 5) -> None:
        """End the background thread (after the round under way) and start none again: the app
        and its database are going away. Waits up to `timeout` for it to end."""
        with self._lock:
            self._stop.set()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def _run(self) -> None:
        interval = float(settings(self.app).monitoring.destination_check_interval)
        while not self._stop.is_set():
            try:
                self.refresh()
            except Exception:  # the database is down: the next round tries again
                if not self._stop.is_set():
                    log.warning("destination checks failed", exc_info=True)
            self._stop.wait(interval)  # the period between rounds; a stop ends it at once


def stop_destination_watch(app: Flask) -> None:
    """Stop `app`'s destination checks, if they ever started (when the app is torn down)."""
    watch = app.extensions.get("syncapp.destination_watch")
    if watch is not None:
        watch.stop()


def destinations_report(owner_id: int | None) -> CheckReport:
    """The cached results for `owner_id`'s jobs (None: an administrator, every job)."""
    watch = DestinationWatch.of(current_app._get_current_object())
    watch.ensure_running()
    if watch.results is None:
        return CheckReport("not checked yet: destinations are checked in the background")
    mine = [job for job in watch.results if owner_id is None or job["owner_id"] == owner_id]
    if not mine:
        return CheckReport("no enabled sync jobs")
    failing = sum(job["status"] == "error" for job in mine)
    age = time.monotonic() - (watch.checked_at or 0)
    detail = f"{len(mine) - failing} of {len(mine)} destination(s) reachable ({age:.0f} s ago)"
    return CheckReport(detail, ok=not failing, jobs=mine)
