"""Who runs a sync job, when, and where: claims, run requests, recovery and the dispatcher.

A job is claimed on its row (`engine.JOB_CLAIMS`, background/claims.py: `lease_owner`,
`lease_until`), so across threads, processes and hosts a job never runs twice at once. Any
process may ask for a run by writing a queued `SyncRun`; the scheduler leader's dispatcher looks
for due jobs every `sync.dispatch_interval` seconds and runs them in its own thread pool. A claim
whose process died (or that was not renewed in time) is taken back and its run marked
`interrupted`; the next run finds what it had not recorded still queued, and copies it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from flask import Flask
from sqlalchemy import case, select, update

from ..alerts.wiring import recheck
from ..extensions import db
from ..settings import settings
from ..storage.base import owner_tag
from ..timeutil import utcnow
from . import metrics
from .engine import JOB_CLAIMS
from .models import SyncJob, SyncRun
from .watcher import RealtimeWatcher
from .wiring import DISPATCHER, build_engine, wake_dispatcher

log = logging.getLogger(__name__)


# --- claims and requests ---------------------------------------------------------------------


def claim(job_id: int, owner: str) -> bool:
    return JOB_CLAIMS.claim(db.session, job_id, owner)


def release(job_id: int, owner: str) -> None:
    JOB_CLAIMS.release(db.session, job_id, owner)
    db.session.commit()


def queued_run(job_id: int) -> SyncRun | None:
    return db.session.scalar(
        select(SyncRun)
        .where(SyncRun.job_id == job_id, SyncRun.status == "queued")
        .order_by(SyncRun.id)
        .limit(1)
    )


def request_run(job: SyncJob, reason: str) -> SyncRun:
    """Queue a run (one queued run per job at most) and wake this process's dispatcher."""
    run = queued_run(job.id)
    if run is None:
        run = SyncRun(job_id=job.id, reason=reason, status="queued")
        db.session.add(run)
    if job.state not in ("running",):
        job.state = "queued"
    job.next_run_at = utcnow()
    db.session.commit()
    wake_dispatcher()
    return run


def recover_stale() -> list[int]:
    """Take back the claims of dead or silent processes; their runs become `interrupted`."""
    now = utcnow()
    state = case((SyncJob.enabled.is_(True), "idle"), else_="stopped")
    recovered = JOB_CLAIMS.recover(db.session, now=now, state=state, next_run_at=now)
    if recovered:
        log.warning("jobs %s: taking back the claims of ended or silent processes", recovered)
        db.session.execute(
            update(SyncRun)
            .where(SyncRun.job_id.in_(recovered), SyncRun.status == "running")
            .values(status="interrupted", finished_at=now, error="the process running it ended")
        )
    db.session.commit()
    return recovered


def run_now(job_id: int, reason: str = "force", **hooks) -> SyncRun | None:
    """Claim the job and run it in this thread (a queued run if there is one); None when the
    job is claimed elsewhere. Tests and the CLI use this; the dispatcher does the same."""
    owner = owner_tag()
    if not claim(job_id, owner):
        return None
    try:
        run = queued_run(job_id)
        if run is None:
            run = SyncRun(job_id=job_id, reason=reason, status="queued")
            db.session.add(run)
            db.session.commit()
        run_id = run.id
        finished = build_engine(owner, **hooks).run(run_id, cancel=cancel_event(job_id))
        metrics.record_run(job_id, finished.status, finished.duration)
    finally:
        db.session.rollback()
        release(job_id, owner)
        _cancel_events.pop(job_id, None)
    job_owner = db.session.scalar(select(SyncJob.owner_id).where(SyncJob.id == job_id))
    if job_owner is not None:  # a run that did its work ends the job's failures alert now
        recheck("sync_failures", job_owner)
    return db.session.get(SyncRun, run_id)  # loaded after the last commit: readable detached


_cancel_events: dict[int, threading.Event] = {}


def cancel_event(job_id: int) -> threading.Event:
    return _cancel_events.setdefault(job_id, threading.Event())


def cancel_local(job_id: int) -> None:
    """Stop a run of this job in this process now; other processes notice the disabled job at
    their next batch."""
    event = _cancel_events.get(job_id)
    if event is not None:
        event.set()


# --- the dispatcher --------------------------------------------------------------------------


def due_job_ids() -> list[int]:
    now = utcnow()
    scheduled = select(SyncJob.id).where(
        SyncJob.enabled.is_(True),
        SyncJob.lease_owner.is_(None),
        SyncJob.next_run_at <= now,
    )
    requested = select(SyncRun.job_id).where(SyncRun.status == "queued")
    never_run = select(SyncJob.id).where(
        SyncJob.enabled.is_(True), SyncJob.next_run_at.is_(None), SyncJob.lease_owner.is_(None)
    )
    ids = set(db.session.scalars(scheduled)) | set(db.session.scalars(requested))
    return sorted(ids | set(db.session.scalars(never_run)))


class Dispatcher:
    """Runs due jobs of the whole deployment in this (the leader) process."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.workers = settings(app).sync.max_concurrent_jobs
        self.pool = ThreadPoolExecutor(self.workers, "sync-job")
        self.running: set[int] = set()
        self.lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self.thread: threading.Thread | None = None
        self.after_tick: list[Callable[[], None]] = []

    def start(self) -> None:
        interval = settings(self.app).sync.dispatch_interval

        def loop() -> None:
            while not self._stop.is_set():
                try:
                    self.tick()
                except Exception:
                    log.exception("sync dispatcher tick failed")
                self._wake.wait(interval)
                self._wake.clear()

        self.thread = threading.Thread(target=loop, name="sync-dispatcher", daemon=True)
        self.thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        for job_id in list(self.running):
            cancel_local(job_id)
        self.pool.shutdown(wait=True, cancel_futures=True)

    def tick(self) -> None:
        with self.app.app_context():
            try:
                recover_stale()
                for job_id in due_job_ids():
                    with self.lock:
                        if job_id in self.running or len(self.running) >= self.workers:
                            continue
                        self.running.add(job_id)
                    self.pool.submit(self._run, job_id)
            finally:
                db.session.remove()
        for callback in self.after_tick:
            callback()

    def _run(self, job_id: int) -> None:
        try:
            with self.app.app_context():
                try:
                    run_now(job_id, reason="schedule")
                finally:
                    db.session.remove()
        except Exception:
            log.exception("sync job %d failed to run", job_id)
        finally:
            with self.lock:
                self.running.discard(job_id)
            self.wake()  # a run requested while this one ran is due now


def start_dispatcher(app: Flask) -> Dispatcher:
    """Start running sync jobs in this process (the scheduler leader, or a test): the
    dispatcher, and the realtime watcher that requests runs of realtime jobs."""
    dispatcher = Dispatcher(app)
    app.extensions[DISPATCHER] = dispatcher
    dispatcher.start()
    watcher = RealtimeWatcher(app, request_run)
    app.extensions["syncapp.sync_watcher"] = watcher
    watcher.start()
    dispatcher.after_tick.append(watcher.refresh)  # the watched set follows the jobs table
    return dispatcher


def stop_dispatcher(app: Flask) -> None:
    watcher = app.extensions.pop("syncapp.sync_watcher", None)
    if watcher is not None:
        watcher.stop()
    dispatcher = app.extensions.pop(DISPATCHER, None)
    if dispatcher is not None:
        dispatcher.stop()


def default_root(app: Flask) -> Path:
    return Path(app.instance_path) / "sync"
