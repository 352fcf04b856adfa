"""Periodic work: one APScheduler BackgroundScheduler, run only by the leader process.

Every job is registered here, calls one service function with plain values inside its own app
context, and is off under TESTING (tests call the service functions directly). The leader is the
process holding an exclusive lock on the instance folder's lock file; the others try again every
few seconds, so one takes over when the leader dies.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from apscheduler.schedulers.background import BackgroundScheduler
from flask import Flask

from .syncs.runner import start_dispatcher

log = logging.getLogger(__name__)

LEADER_RETRY_SECONDS = 5


@dataclass(frozen=True)
class Job:
    id: str
    run: Callable[[], object]  # called inside an app context
    interval: Callable[[dict], int | None]  # seconds from the settings; None: job is off


def _backup_retention() -> object:
    from flask import current_app

    from .backups.retention import RetentionPolicy
    from .backups.routes import archive_store
    from .backups.store import apply_retention

    options = current_app.config["SYNCAPP"]["backups"]
    if options["append_only"]:
        return []
    return apply_retention(archive_store(), RetentionPolicy.from_settings(options))


def _retention_interval(settings: dict) -> int | None:
    from .backups.retention import RetentionPolicy

    backups = settings["backups"]
    if backups["append_only"] or not RetentionPolicy.from_settings(backups).active:
        return None
    return backups["retention_interval"]


def _cordiax_pollers() -> object:
    from .cordiax.pollers import run_due_pollers

    return run_due_pollers()


def _cordiax_retention() -> object:
    from flask import current_app

    from .cordiax.store import snapshot_store

    options = current_app.config["SYNCAPP"]["cordiax"]
    return snapshot_store().apply_retention(options["keep_last"], options["keep_daily_days"])


def _documents_auto_sync() -> object:
    from .documents.routes import auto_sync

    return auto_sync()


def _cloud_replication() -> object:
    from flask import current_app

    from .cloud.replicator import start_replication

    # The runner copies in its own threads (long copies must not hold this job's slot); new
    # uploads wake it through app.extensions["syncapp.cloud_wake"], set here in the leader.
    start_replication(current_app._get_current_object()).wake()
    return None


JOBS: list[Job] = [
    Job("backups.retention", _backup_retention, _retention_interval),
    # Checks often, polls each poller only when its own interval has passed.
    Job("cordiax.pollers", _cordiax_pollers, lambda s: s["cordiax"]["poll_check_interval"]),
    Job("cordiax.retention", _cordiax_retention, lambda s: s["cordiax"]["retention_interval"]),
    Job(
        "documents.auto_sync",
        _documents_auto_sync,
        lambda s: s["documents"]["auto_sync_interval"],
    ),
    Job("cloud.replication", _cloud_replication, lambda s: s["cloud"]["replication_interval"]),
]


class FileLeaderLock:
    """An exclusive flock held for the life of the process (released by the kernel on exit)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def try_acquire(self) -> bool:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return True

    @property
    def held(self) -> bool:
        return self._fd is not None


def _in_context(app: Flask, job: Job) -> Callable[[], None]:
    def run() -> None:
        with app.app_context():
            try:
                job.run()
            except Exception:
                log.exception("scheduled job %s failed", job.id)

    return run


def build_scheduler(app: Flask) -> BackgroundScheduler:
    scheduler = BackgroundScheduler(
        daemon=True, job_defaults={"coalesce": True, "max_instances": 1}
    )
    for job in JOBS:
        seconds = job.interval(app.config["SYNCAPP"])
        if seconds:
            scheduler.add_job(_in_context(app, job), "interval", seconds=seconds, id=job.id)
    return scheduler


def lock_path(app: Flask) -> Path:
    return Path(
        app.config["SYNCAPP"]["scheduler"]["lock_file"]
        or Path(app.instance_path) / "scheduler.lock"
    )


def start_scheduler(app: Flask) -> None:
    """Start the jobs in this process if it can become the leader, else keep trying."""
    options = app.config["SYNCAPP"]["scheduler"]
    if app.testing or not options["enabled"]:
        return
    lock = FileLeaderLock(lock_path(app))
    state = app.extensions.setdefault("syncapp.scheduler", {"lock": lock, "scheduler": None})

    def become_leader() -> bool:
        if not lock.try_acquire():
            return False
        scheduler = build_scheduler(app)
        scheduler.start()
        state["scheduler"] = scheduler
        start_dispatcher(app)  # sync jobs: its own loop, as often as sync.dispatch_interval
        log.info(
            "this process (%d) leads the scheduler with %d job(s)",
            os.getpid(),
            len(scheduler.get_jobs()),
        )
        return True

    if become_leader():
        return
    stop = threading.Event()
    state["stop"] = stop

    def wait_for_leadership() -> None:
        while not stop.wait(LEADER_RETRY_SECONDS):
            if become_leader():
                return

    threading.Thread(target=wait_for_leadership, name="scheduler-leader", daemon=True).start()
