"""The leader lock: which one process of a deployment runs the background work.

- On PostgreSQL, a session-level advisory lock held on a dedicated connection for the leader's
  life (a transaction-level lock would go back with a pooled connection and exclude nothing), so
  any number of processes on any number of hosts elect one leader, and PostgreSQL lets go of the
  lock when the leader's process dies or its connection breaks. The lock can thus be lost while
  the process lives (`can_be_lost`): the leader checks it (scheduler.Leadership).
- On SQLite (one host), an exclusive flock on the instance folder's lock file, released by the
  kernel when the process ends.

`leader_elsewhere` tells a follower (and /api/v1/status) whether another process leads.
"""

from __future__ import annotations

import fcntl
import logging
import os
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote, urlencode

from flask import Flask
from sqlalchemy import text
from sqlalchemy.engine import make_url

from .. import scheduled_runs
from ..extensions import db
from ..settings import settings

log = logging.getLogger(__name__)

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
    # SQLAlchemy writes a space in the query as "+", which libpq does not decode: an `options`
    # of two settings ("-csearch_path=x -cstatement_timeout=5s") reached the server as one bad
    # search_path, and the lock was then keyed by no schema. %20 is decoded by both.
    base = url.set(drivername="postgresql", query={}).render_as_string(hide_password=False)
    query = urlencode(dict(url.query), doseq=True, quote_via=quote)
    return f"{base}?{query}" if query else base


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


def lock_path(app: Flask) -> Path:
    return Path(settings(app).scheduler.lock_file or Path(app.instance_path) / "scheduler.lock")
