"""The PostgreSQL leader lock: a session-level advisory lock on a dedicated connection.

Real PostgreSQL (postgres_url: a database of its own per test). A lost session (the server
restarted, or killed the backend) must make the leader step down, and its lock must be free for
the next leader; the lock belongs to one deployment (database + schema), not the whole server.
"""

from __future__ import annotations

import os

import psycopg
import pytest

from syncapp.background.leader import PostgresLeaderLock, leader_elsewhere, postgres_conninfo
from syncapp.extensions import db
from syncapp.scheduled_runs import ScheduledRun, latest_by_job, prune
from syncapp.scheduler import _in_context, start_scheduler
from syncapp.syncs.runner import stop_dispatcher
from tests.peers.process import wait_until

pytestmark = pytest.mark.peer


def backend_pids(url: str) -> list[int]:
    """The PostgreSQL backends holding an advisory lock in `url`'s database."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT l.pid FROM pg_locks l JOIN pg_database d ON d.oid = l.database"
            " WHERE l.locktype = 'advisory' AND l.granted AND d.datname = current_database()"
        ).fetchall()
    return [row[0] for row in rows]


def terminate(url: str, pid: int) -> None:
    """What a PostgreSQL restart does to every session: the backend is gone."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_terminate_backend(%s)", (pid,))


def test_one_session_holds_the_lock_until_it_is_lost(postgres_url):
    first, second = PostgresLeaderLock(postgres_url), PostgresLeaderLock(postgres_url)
    try:
        assert first.try_acquire() is True
        assert second.try_acquire() is False  # a second connection, same process: excluded
        assert first.still_held() is True
        [holder] = backend_pids(postgres_url)

        terminate(postgres_url, holder)
        assert first.still_held() is False  # noticed on the next check, not assumed
        assert second.try_acquire() is True
        assert second.still_held() is True
    finally:
        first.release()
        second.release()
    assert backend_pids(postgres_url) == []  # release gives it back and closes the connection


def test_the_lock_is_per_schema(postgres_url):
    """Two deployments (or two test apps) in one database, each in its own schema."""
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA other")
    here = PostgresLeaderLock(postgres_url)
    there = PostgresLeaderLock(f"{postgres_url}?options=-csearch_path%3Dother")
    try:
        assert here.try_acquire() is True
        assert there.try_acquire() is True
        assert len(backend_pids(postgres_url)) == 2
    finally:
        here.release()
        there.release()


def test_only_postgresql_urls_get_the_advisory_lock():
    url = postgres_conninfo("postgresql+psycopg://u:p%40ss@db.example:5433/syncapp")
    assert url == "postgresql://u:p%40ss@db.example:5433/syncapp"
    assert postgres_conninfo("sqlite:////tmp/x.db") is None


def test_options_with_a_space_reach_libpq_whole():
    """Two settings in `options` are separated by a space: libpq must read it back as one."""
    from psycopg.conninfo import conninfo_to_dict

    options = "-csearch_path=tenant_a -cstatement_timeout=5s"
    url = postgres_conninfo(
        "postgresql+psycopg://u@db.example/syncapp?options=-csearch_path%3Dtenant_a"
        "%20-cstatement_timeout%3D5s&application_name=x"
    )
    assert conninfo_to_dict(url) == {
        "user": "u", "host": "db.example", "dbname": "syncapp", "options": options,
        "application_name": "x",
    }  # fmt: skip


def _scheduled_app(make_app, postgres_url):
    return make_app(
        TESTING=False,
        database={"url": postgres_url},
        scheduler={"leader_retry": 0.2},
    )


def test_a_leader_that_loses_its_session_steps_down_and_leads_again(make_app, postgres_url):
    app = _scheduled_app(make_app, postgres_url)
    follower = _scheduled_app(make_app, postgres_url)
    start_scheduler(app)
    state = app.extensions["syncapp.scheduler"]
    first_scheduler = state["scheduler"]
    assert first_scheduler is not None and first_scheduler.running
    start_scheduler(follower)
    other = follower.extensions["syncapp.scheduler"]
    other["stop"].set()  # the follower never tries again: the old leader must take it back
    try:
        assert other["scheduler"] is None
        with follower.app_context():
            assert leader_elsewhere(follower) == (True, os.getpid())

        [holder] = backend_pids(postgres_url)
        terminate(postgres_url, holder)
        # The leader notices within leader_retry, stops everything, then wins the lock again.
        wait_until(lambda: not first_scheduler.running, 30, "the old scheduler to stop")
        wait_until(
            lambda: state["scheduler"] is not None and state["scheduler"].running,
            30,
            "the leader to take the lock again",
        )
        assert state["scheduler"] is not first_scheduler
        assert app.extensions.get("syncapp.sync_dispatcher") is not None
        [new_holder] = backend_pids(postgres_url)
        assert new_holder != holder
    finally:
        state["stop"].set()
        if state["scheduler"] is not None:
            state["scheduler"].shutdown(wait=False)
        stop_dispatcher(app)
        state["lock"].release()


def test_a_job_whose_leader_lost_the_lock_does_not_run(make_app, postgres_url):
    """The fence before every job: a leader that has not noticed yet must not run it."""
    app = _scheduled_app(make_app, postgres_url)
    ran: list[str] = []

    class Job:
        id = "test.job"

        @staticmethod
        def run() -> None:
            ran.append("ran")

    leading = [True]
    _in_context(app, Job, confirm=lambda: leading[0])()
    leading[0] = False
    _in_context(app, Job, confirm=lambda: leading[0])()
    assert ran == ["ran"]
    with app.app_context():
        rows = db.session.query(ScheduledRun).all()
        assert [(r.job_id, r.pid, r.outcome) for r in rows] == [("test.job", os.getpid(), "ok")]
        assert latest_by_job()["test.job"]["pid"] == os.getpid()


def test_recorded_runs_are_bounded_and_failures_kept(make_app, tmp_path):
    app = make_app(TESTING=False, scheduler={"keep_runs": 3})

    class Failing:
        id = "test.failing"

        @staticmethod
        def run() -> None:
            raise RuntimeError("boom")

    for _ in range(5):
        _in_context(app, Failing)()
    with app.app_context():
        rows = db.session.query(ScheduledRun).order_by(ScheduledRun.id).all()
        assert len(rows) == 3
        assert {r.outcome for r in rows} == {"failed"}
        assert rows[-1].error == "RuntimeError: boom"
        prune("test.failing", 1)
        assert db.session.query(ScheduledRun).count() == 1
