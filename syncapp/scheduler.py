"""Periodic work: one APScheduler BackgroundScheduler, run only by the leader process.

Every job is registered here, calls one service function with plain values inside its own app
context, and is off under TESTING (tests call the service functions directly). The leader is the
one process holding the leader lock:

- on PostgreSQL, a session-level advisory lock held on a dedicated connection for the leader's
  life (a transaction-level lock would go back with a pooled connection and exclude nothing), so
  any number of processes on any number of hosts elect one leader, and PostgreSQL lets go of the
  lock when the leader's process dies or its connection breaks;
- on SQLite (one host), an exclusive flock on the instance folder's lock file.

The others try again every `scheduler.leader_retry` seconds, so one takes over when the leader
dies. A PostgreSQL leader checks its connection as often and before each job: once the lock is
lost (the server restarted), it stops its scheduler and sync dispatcher and tries again like any
follower, so two processes never go on leading. Each run is recorded (scheduled_runs.py), and a
new leader plans each job's next run from the last recorded one.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Protocol

from apscheduler.schedulers.background import BackgroundScheduler
from flask import Flask
from sqlalchemy import text
from sqlalchemy.engine import make_url

from . import scheduled_runs
from .extensions import db
from .syncs.runner import start_dispatcher, stop_dispatcher
from .timeutil import utcnow

log = logging.getLogger(__name__)

#: the default of scheduler.leader_retry (seconds between a follower's attempts)
LEADER_RETRY_SECONDS = 5
#: the advisory lock is (ADVISORY_KEY, hashtext(current_schema())): advisory locks are per
#: database, and the schema tells apart deployments (or test apps) sharing one database. In
#: pg_locks this two-key form shows as classid ADVISORY_KEY, objid the hash, objsubid 2.
ADVISORY_KEY = 0x53594E43  # "SYNC"
_SCHEMA_KEY = "hashtext(current_schema())"
_OUR_LOCK = (
    "l.locktype = 'advisory' AND l.granted AND l.classid = %(key)s AND l.objsubid = 2"
    f" AND l.objid::bigint = ({_SCHEMA_KEY}::bigint & 4294967295)"
    " AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
)


@dataclass(frozen=True)
class Job:
    id: str
    run: Callable[[], object]  # called inside an app context
    interval: Callable[[dict], int | None]  # seconds from the settings; None: job is off


def _backup_retention() -> object:
    from flask import current_app

    from .backups.retention import RetentionPolicy
    from .backups.store import apply_retention
    from .backups.wiring import archive_store

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
    from .cordiax.wiring import run_due_pollers

    return run_due_pollers()


def _cordiax_retention() -> object:
    from flask import current_app

    from .cordiax.wiring import snapshot_store

    options = current_app.config["SYNCAPP"]["cordiax"]
    return snapshot_store().apply_retention(options["keep_last"], options["keep_daily_days"])


def _documents_auto_sync() -> object:
    from .documents.wiring import auto_sync

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


class LeaderLock(Protocol):
    #: whether the lock can go away while this process lives (a database connection can)
    can_be_lost: bool

    @property
    def held(self) -> bool: ...

    def try_acquire(self) -> bool: ...

    def still_held(self) -> bool: ...

    def release(self) -> None: ...


class FileLeaderLock:
    """An exclusive flock held for the life of the process (released by the kernel on exit)."""

    can_be_lost = False

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

    def still_held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def file_lock_holder(path: Path) -> tuple[bool, int | None]:
    """(whether another process holds the file lock, its pid as written in the lock file).

    Probes by taking the lock and letting go at once: a follower that tries in that instant
    simply tries again at its next attempt."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return False, None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            text_ = os.read(fd, 32).decode(errors="replace").strip()
            return True, int(text_) if text_.isdigit() else None
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False, None
    finally:
        os.close(fd)


#: what the leader's dedicated connection calls itself (pg_stat_activity.application_name)
_APPLICATION_NAME = "syncapp-leader pid={pid} host={host}"


class PostgresLeaderLock:
    """`pg_try_advisory_lock` on a connection of its own (autocommit, outside the pool), kept
    open while this process leads. PostgreSQL drops the lock with the session: when the process
    dies, its socket closes; when the server restarts, every session is gone."""

    can_be_lost = True

    def __init__(self, conninfo: str, key: int = ADVISORY_KEY) -> None:
        self.conninfo = conninfo
        self.key = key
        self._conn: Any = None

    @property
    def held(self) -> bool:
        return self._conn is not None

    def _connect(self) -> Any:
        import psycopg

        name = _APPLICATION_NAME.format(pid=os.getpid(), host=scheduled_runs.HOST)
        return psycopg.connect(
            self.conninfo,
            autocommit=True,
            connect_timeout=5,
            application_name=name[:63],
            # A vanished server (not just a restarted one) is noticed within ~30 s.
            keepalives=1,
            keepalives_idle=10,
            keepalives_interval=5,
            keepalives_count=3,
        )

    def try_acquire(self) -> bool:
        try:
            conn = self._connect()
        except Exception as exc:  # server down or restarting: a follower simply tries again
            log.warning("scheduler: cannot reach PostgreSQL for the leader lock: %s", exc)
            return False
        try:
            got = conn.execute(
                f"SELECT pg_try_advisory_lock(%s, {_SCHEMA_KEY})", (self.key,)
            ).fetchone()[0]
        except Exception as exc:
            log.warning("scheduler: pg_try_advisory_lock failed: %s", exc)
            got = False
        if not got:
            conn.close()
            return False
        self._conn = conn
        return True

    def still_held(self) -> bool:
        """Asks the server whether this session holds the lock now (False when the connection
        is gone: the server restarted or the network broke)."""
        if self._conn is None:
            return False
        try:
            row = self._conn.execute(
                f"SELECT count(*) FROM pg_locks l WHERE {_OUR_LOCK} AND l.pid = pg_backend_pid()",
                {"key": self.key},
            ).fetchone()
        except Exception as exc:
            log.error("scheduler: the leader lock's connection is lost: %s", exc)
            return False
        return bool(row and row[0] == 1)

    def release(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            conn.execute(f"SELECT pg_advisory_unlock(%s, {_SCHEMA_KEY})", (self.key,))
        except Exception:  # the session is gone already, and the lock with it
            pass
        finally:
            conn.close()


def postgres_conninfo(sqlalchemy_url: str) -> str | None:
    """The libpq URL for a PostgreSQL database URL; None for any other database."""
    url = make_url(sqlalchemy_url)
    if url.get_backend_name() != "postgresql":
        return None
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def leader_lock(app: Flask) -> LeaderLock:
    conninfo = postgres_conninfo(app.config["SQLALCHEMY_DATABASE_URI"])
    if conninfo is not None:
        return PostgresLeaderLock(conninfo)
    return FileLeaderLock(lock_path(app))


def leader_elsewhere(app: Flask) -> tuple[bool, int | None]:
    """(whether another process leads, its pid when known). Called inside an app context."""
    if postgres_conninfo(app.config["SQLALCHEMY_DATABASE_URI"]) is None:
        return file_lock_holder(lock_path(app))
    # Only asked when this app does not lead, so any holder is another process (or app).
    query = "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
    sql = f"{query} WHERE {_OUR_LOCK}".replace("%(key)s", ":key")
    names = db.session.scalars(text(sql), {"key": ADVISORY_KEY}).all()
    if not names:
        return False, None
    pid = (names[0] or "").partition("pid=")[2].partition(" ")[0]
    return True, int(pid) if pid.isdigit() else None


# --- the scheduler ---------------------------------------------------------------------------


def _in_context(app: Flask, job: Job, confirm: Callable[[], bool] = lambda: True) -> Callable:
    keep = app.config["SYNCAPP"]["scheduler"]["keep_runs"]

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
    for job in JOBS:
        seconds = job.interval(app.config["SYNCAPP"])
        if seconds:
            scheduler.add_job(
                _in_context(app, job, confirm), "interval", seconds=seconds, id=job.id
            )
    return scheduler


def align_with_history(app: Flask, scheduler: BackgroundScheduler) -> None:
    """Plan each job's first run one interval after its last recorded run (by any process), or
    now if that is past: a new leader keeps the deployment's rhythm."""
    now = utcnow()
    with app.app_context():
        try:
            for job in scheduler.get_jobs():
                last = scheduled_runs.last_started(job.id)
                if last is not None:
                    due = max(now, last + timedelta(seconds=job.trigger.interval.total_seconds()))
                    job.modify(next_run_time=due)
        except Exception:  # no scheduled_runs table yet: the intervals start from now
            log.exception("could not read the scheduled runs; intervals start now")
        finally:
            db.session.remove()


def lock_path(app: Flask) -> Path:
    return Path(
        app.config["SYNCAPP"]["scheduler"]["lock_file"]
        or Path(app.instance_path) / "scheduler.lock"
    )


class Leadership:
    """This process's side of the election: lead once the lock is ours, step down if it is lost."""

    def __init__(self, app: Flask, lock: LeaderLock, state: dict[str, Any]) -> None:
        self.app = app
        self.lock = lock
        self.state = state
        self.retry = float(app.config["SYNCAPP"]["scheduler"]["leader_retry"])
        self._mutex = threading.Lock()

    def try_to_lead(self) -> bool:
        with self._mutex:
            if self.lock.held:
                return True
            if not self.lock.try_acquire():
                return False
            scheduler = build_scheduler(self.app, self.confirm)
            align_with_history(self.app, scheduler)
            scheduler.start()
            self.state["scheduler"] = scheduler
            start_dispatcher(
                self.app
            )  # sync jobs: its own loop, as often as sync.dispatch_interval
            log.info(
                "this process (%d) leads the scheduler with %d job(s)",
                os.getpid(),
                len(scheduler.get_jobs()),
            )
            return True

    def confirm(self) -> bool:
        """Whether this process still leads; steps down at once if not."""
        if not self.lock.can_be_lost or self.lock.still_held():
            return True
        self.step_down()
        return False

    def step_down(self) -> None:
        from .cloud.replicator import stop_replication

        with self._mutex:
            if not self.lock.held:
                return
            log.error("this process (%d) lost the leader lock: stopping its scheduler", os.getpid())
            scheduler = self.state.get("scheduler")
            self.state["scheduler"] = None
            if scheduler is not None and scheduler.running:
                scheduler.shutdown(wait=False)
            stop_dispatcher(self.app)
            stop_replication(self.app)
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
    """Start the jobs in this process if it can become the leader, else keep trying."""
    options = app.config["SYNCAPP"]["scheduler"]
    if app.testing or not options["enabled"]:
        return
    lock = leader_lock(app)
    stop = threading.Event()
    state = app.extensions.setdefault(
        "syncapp.scheduler", {"lock": lock, "scheduler": None, "stop": stop}
    )
    leadership = Leadership(app, lock, state)
    state["leadership"] = leadership
    if leadership.try_to_lead() and not lock.can_be_lost:
        return
    threading.Thread(
        target=leadership.watch, args=(stop,), name="scheduler-leader", daemon=True
    ).start()
