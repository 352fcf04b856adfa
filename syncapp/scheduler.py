"""Every piece of background work, run in one process of the deployment: the leader.

The registry: each feature declares its work in `<feature>/background.py` (background/work.py:
`Job`, periodic, and `Runner`, long-running); `FEATURES` below lists those modules, and `JOBS`
and `RUNNERS` are everything they declare. Nothing else starts background work in the leader.

The leader is the one process holding the leader lock (background/leader.py: a PostgreSQL
advisory lock, or a flock on SQLite). When it takes the lock it starts every runner and one
APScheduler BackgroundScheduler with every job; the others try again every
`scheduler.leader_retry` seconds, so one takes over when the leader dies. A PostgreSQL leader
checks its lock as often and before each job: once the lock is lost (the server restarted), it
stops its scheduler and runners and tries again like any follower, so two processes never go on
leading. Each job's run is recorded (scheduled_runs.py), and a new leader plans each job's next
run from the last recorded one; a runner's periodic wake-up is not a run and is not recorded.
Off under TESTING (tests call the service functions directly) and with `scheduler.enabled: false`.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from datetime import timedelta
from functools import partial
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from flask import Flask

from . import scheduled_runs
from .alerts import background as alerts_background
from .background.leader import LeaderLock, leader_lock
from .background.work import Job, Runner
from .backups import background as backups_background
from .cloud import background as cloud_background
from .cordiax import background as cordiax_background
from .documents import background as documents_background
from .extensions import db
from .notifications import background as notifications_background
from .scrub import background as scrub_background
from .settings import settings
from .syncs import background as syncs_background
from .timeutil import utcnow

log = logging.getLogger(__name__)

#: every feature's background declarations; runners start in this order and stop in reverse
FEATURES = (
    backups_background,
    cordiax_background,
    documents_background,
    syncs_background,
    cloud_background,
    scrub_background,
    alerts_background,
    notifications_background,
)
JOBS: list[Job] = [job for feature in FEATURES for job in feature.JOBS]
RUNNERS: list[Runner] = [runner for feature in FEATURES for runner in feature.RUNNERS]


# --- the scheduler ---------------------------------------------------------------------------


def _in_context(app: Flask, job: Job, confirm: Callable[[], bool] = lambda: True) -> Callable:
    keep = settings(app).scheduler.keep_runs

    def run() -> None:
        # A fence: a leader whose lock went away (PostgreSQL restarted) must not run one more
        # job while another process may already lead.
        if not confirm():
            return
        with app.app_context():
            try:
                run_id: int | None = scheduled_runs.start(job.id)
            except Exception:
                log.exception("could not record the start of scheduled job %s", job.id)
                db.session.rollback()
                run_id = None
            error: BaseException | None = None
            try:
                job.run()
            except Exception as exc:
                error = exc
                log.exception("scheduled job %s failed", job.id)
            finally:
                try:
                    if run_id is not None:
                        db.session.rollback()  # whatever the job left half-done
                        scheduled_runs.finish(run_id, error, keep)
                except Exception:
                    log.exception("could not record the end of scheduled job %s", job.id)
                db.session.remove()

    return run


def build_scheduler(app: Flask, confirm: Callable[[], bool] = lambda: True) -> BackgroundScheduler:
    scheduler = BackgroundScheduler(
        daemon=True,
        # A run that starts late (busy machine) still runs once, instead of being skipped.
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
    )
    configured = settings(app)
    for job in JOBS:
        seconds = job.interval(configured)
        if seconds:
            scheduler.add_job(
                _in_context(app, job, confirm), "interval", seconds=seconds, id=job.id
            )
    for runner in RUNNERS:
        seconds = runner.interval(configured) if runner.interval is not None else None
        if runner.wake is not None and seconds:
            # A nudge, not a run: nothing recorded, no leader check (the runner claims its work).
            scheduler.add_job(partial(runner.wake, app), "interval", seconds=seconds, id=runner.id)
    return scheduler


def start_runners(app: Flask) -> list[Runner]:
    """Start every runner the settings leave on; the ones started."""
    started = []
    for runner in RUNNERS:
        if runner.enabled(settings(app)):
            runner.start(app)
            started.append(runner)
    return started


def stop_runners(app: Flask, runners: list[Runner]) -> None:
    """Stop them in the reverse order; one that fails to stop does not keep the others going."""
    for runner in reversed(runners):
        try:
            runner.stop(app)
        except Exception:
            log.exception("could not stop the background runner %s", runner.id)


def align_with_history(app: Flask, scheduler: BackgroundScheduler) -> None:
    """Plan each job's first run one interval after its last recorded run (by any process), or
    now if that is past: a new leader keeps the deployment's rhythm."""
    now = utcnow()
    recorded = {job.id for job in JOBS}
    with app.app_context():
        try:
            for job in scheduler.get_jobs():
                if job.id not in recorded:
                    continue
                last = scheduled_runs.last_started(job.id)
                if last is not None:
                    due = max(now, last + timedelta(seconds=job.trigger.interval.total_seconds()))
                    job.modify(next_run_time=due)
        except Exception:  # no scheduled_runs table yet: the intervals start from now
            log.exception("could not read the scheduled runs; intervals start now")
        finally:
            db.session.remove()


class Leadership:
    """This process's side of the election: lead once the lock is ours, step down if it is lost."""

    def __init__(self, app: Flask, lock: LeaderLock, state: dict[str, Any]) -> None:
        self.app = app
        self.lock = lock
        self.state = state
        self.retry = float(settings(app).scheduler.leader_retry)
        self._mutex = threading.Lock()

    def try_to_lead(self) -> bool:
        with self._mutex:
            if self.lock.held:
                return True
            if not self.lock.try_acquire():
                return False
            self.state["runners"] = start_runners(self.app)
            scheduler = build_scheduler(self.app, self.confirm)
            align_with_history(self.app, scheduler)
            scheduler.start()
            self.state["scheduler"] = scheduler
            log.info(
                "this process (%d) leads the background work: %d scheduled job(s), runners %s",
                os.getpid(),
                len(scheduler.get_jobs()),
                ", ".join(runner.id for runner in self.state["runners"]) or "none",
            )
            return True

    def confirm(self) -> bool:
        """Whether this process still leads; steps down at once if not."""
        if not self.lock.can_be_lost or self.lock.still_held():
            return True
        self.step_down()
        return False

    def step_down(self) -> None:
        with self._mutex:
            if not self.lock.held:
                return
            log.error("this process (%d) lost the leader lock: stopping its scheduler", os.getpid())
            scheduler = self.state.get("scheduler")
            self.state["scheduler"] = None
            if scheduler is not None and scheduler.running:
                scheduler.shutdown(wait=False)
            stop_runners(self.app, self.state.pop("runners", []))
            self.lock.release()

    def watch(self, stop: threading.Event) -> None:
        """Followers try to take over; a leader whose lock can be lost checks it as often."""
        while not stop.wait(self.retry):
            try:
                if self.lock.held:
                    if not self.lock.can_be_lost:
                        return  # a flock is ours until the process ends
                    self.confirm()
                else:
                    self.try_to_lead()
            except Exception:
                log.exception("scheduler leadership check failed")


def start_scheduler(app: Flask) -> None:
    """Start the background work in this process if it can become the leader, else keep
    trying."""
    options = settings(app).scheduler
    if app.testing or not options.enabled:
        return
    lock = leader_lock(app)
    stop = threading.Event()
    state = app.extensions.setdefault(
        "syncapp.scheduler", {"lock": lock, "scheduler": None, "stop": stop}
    )
    leadership = Leadership(app, lock, state)
    state["leadership"] = leadership
    try:
        if leadership.try_to_lead() and not lock.can_be_lost:
            return
    except Exception:
        # e.g. a lock file that cannot be created: the pages keep answering and
        # /api/v1/health (the dashboard's headline) names the failure; the watch tries again
        log.exception("could not take the scheduler's leader lock")
    threading.Thread(
        target=leadership.watch, args=(stop,), name="scheduler-leader", daemon=True
    ).start()
