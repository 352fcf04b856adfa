"""background/claims.py against the suite's real database (a SQLite file, or PostgreSQL in
scripts/test's second pass), over the two tables that use it: sync jobs (a holder column) and
cloud copies (a state column). Times are given explicitly: no test waits for a lease to run out."""

from __future__ import annotations

import os
import subprocess
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from syncapp.background.claims import Claims, backoff
from syncapp.cloud.models import CloudCopy, CloudFile
from syncapp.cloud.replicator import copy_claims
from syncapp.extensions import db
from syncapp.storage.base import owner_tag
from syncapp.syncs.engine import JOB_CLAIMS, LEASE
from syncapp.syncs.models import SyncJob
from tests.conftest import make_user
from tests.peers.process import wait_until

T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
COPY_LEASE = timedelta(seconds=60)


@pytest.fixture
def rows(make_app):
    """(app, a sync job id, a pending cloud copy id)."""
    app = make_app()
    owner = make_user(app, "alice@example.com")
    with app.app_context():
        job = SyncJob(owner_id=owner, name="j", source_path="/s", destination_path="/d")
        file = CloudFile(owner_id=owner, filename="a.txt")
        db.session.add_all([job, file])
        db.session.flush()
        copy = CloudCopy(file_id=file.id, target="s3", remote_path="a.txt", wanted_version=1)
        db.session.add(copy)
        db.session.commit()
        ids = job.id, copy.id
        db.session.rollback()  # no transaction (nor SQLite snapshot) held into the test
        yield app, *ids
        db.session.remove()


def sessions(n: int) -> list[Session]:
    """`n` sessions on connections of their own, as `n` processes would have."""
    make = sessionmaker(bind=db.engine)
    return [make() for _ in range(n)]


def both_claim(claims: Claims, row_id: int, holders: list[str | None]) -> list[bool]:
    """Every holder claims the row at the same moment, each in its own thread and session."""
    start = threading.Barrier(len(holders))
    results: list[bool | None] = [None] * len(holders)
    own = sessions(len(holders))

    def claim(i: int) -> None:
        start.wait(30)
        results[i] = claims.claim(own[i], row_id, holders[i], now=T0)

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(len(holders))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    for session in own:
        session.close()
    assert None not in results
    return results  # type: ignore[return-value]


def test_two_claimers_at_once_one_wins(rows):
    _, job_id, copy_id = rows
    for _ in range(5):  # five rounds, each ended by giving the claim back
        won = both_claim(JOB_CLAIMS, job_id, ["host.1", "host.2"])
        assert sorted(won) == [False, True]
        holder = "host.1" if won[0] else "host.2"
        assert db.session.get(SyncJob, job_id).lease_owner == holder
        assert JOB_CLAIMS.release(db.session, job_id, holder) == 1
        db.session.commit()
    claims = copy_claims(COPY_LEASE)
    assert sorted(both_claim(claims, copy_id, [None, None])) == [False, True]
    db.session.expire_all()
    copy = db.session.get(CloudCopy, copy_id)
    assert (copy.status, copy.next_attempt_at) == ("running", T0 + COPY_LEASE)


def test_a_claim_waiting_for_another_transaction_sees_its_outcome(rows):
    """The second UPDATE starts while the first is not committed: PostgreSQL makes it wait for
    the row and evaluate its condition again on the committed row; SQLite lets one writer in."""
    _, job_id, _ = rows
    first, second = sessions(2)
    committing, go = threading.Event(), threading.Event()
    real_commit = first.commit

    def held_commit() -> None:
        committing.set()
        go.wait(30)
        real_commit()

    first.commit = held_commit  # type: ignore[method-assign]
    results: dict[str, bool] = {}
    one = threading.Thread(target=lambda: results.update(a=JOB_CLAIMS.claim(first, job_id, "a")))
    one.start()
    assert committing.wait(30)  # the first UPDATE is done, not committed
    two = threading.Thread(target=lambda: results.update(b=JOB_CLAIMS.claim(second, job_id, "b")))
    two.start()
    if db.engine.dialect.name == "postgresql":
        wait_until(lambda: _waiting_for_a_lock(), 30, "the second claim to wait for the row")
    go.set()
    one.join(60)
    two.join(60)
    first.close()
    second.close()
    assert results == {"a": True, "b": False}


def _waiting_for_a_lock() -> bool:
    with db.engine.connect() as conn:
        return bool(
            conn.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                    " AND datname = current_database()"
                )
            )
        )


def test_a_lease_that_ran_out_is_recovered(rows):
    _, job_id, copy_id = rows
    assert JOB_CLAIMS.claim(db.session, job_id, "host.1", now=T0)
    assert JOB_CLAIMS.abandoned(db.session, now=T0 + LEASE - timedelta(seconds=1)) == []
    assert JOB_CLAIMS.recover(db.session, now=T0 + LEASE - timedelta(seconds=1)) == []
    assert JOB_CLAIMS.recover(db.session, now=T0 + LEASE + timedelta(seconds=1)) == [job_id]
    db.session.commit()
    job = db.session.get(SyncJob, job_id)
    assert (job.lease_owner, job.lease_until) == (None, None)
    assert JOB_CLAIMS.renew(db.session, [job_id], "host.1") == 0  # the old holder lost it

    claims = copy_claims(COPY_LEASE)
    assert claims.claim(db.session, copy_id, now=T0)
    later = T0 + COPY_LEASE + timedelta(seconds=1)
    assert claims.claim(db.session, copy_id, now=later) is False  # running: recover it first
    assert claims.recover(db.session, now=later, status="pending", next_attempt_at=later) == [
        copy_id
    ]
    db.session.commit()
    assert claims.claim(db.session, copy_id, now=later) is True


def test_an_expired_job_claim_may_be_taken_over_at_once(rows):
    """Sync jobs' claims are free once their lease ran out (runner.run_now claims directly)."""
    _, job_id, _ = rows
    assert JOB_CLAIMS.claim(db.session, job_id, "host.1", now=T0)
    assert not JOB_CLAIMS.claim(db.session, job_id, "host.2", now=T0 + LEASE)
    assert JOB_CLAIMS.claim(db.session, job_id, "host.2", now=T0 + LEASE + timedelta(seconds=1))
    assert db.session.get(SyncJob, job_id).lease_owner == "host.2"


def test_the_heartbeat_keeps_a_claim(rows):
    _, job_id, copy_id = rows
    assert JOB_CLAIMS.claim(db.session, job_id, "host.1", now=T0)
    beat = T0 + LEASE - timedelta(seconds=5)
    assert JOB_CLAIMS.renew(db.session, [job_id], "host.2", now=beat) == 0  # not its claim
    assert JOB_CLAIMS.renew(db.session, [job_id], "host.1", now=beat) == 1
    db.session.commit()
    assert JOB_CLAIMS.recover(db.session, now=T0 + LEASE + timedelta(seconds=1)) == []
    assert JOB_CLAIMS.recover(db.session, now=beat + LEASE + timedelta(seconds=1)) == [job_id]
    db.session.rollback()

    claims = copy_claims(COPY_LEASE)
    assert claims.claim(db.session, copy_id, now=T0)
    beat = T0 + COPY_LEASE - timedelta(seconds=5)
    assert claims.renew(db.session, [copy_id], now=beat, bytes_done=1024) == 1
    db.session.commit()
    assert claims.abandoned(db.session, now=T0 + COPY_LEASE + timedelta(seconds=1)) == []
    copy = db.session.get(CloudCopy, copy_id)
    assert (copy.next_attempt_at, copy.bytes_done) == (beat + COPY_LEASE, 1024)


def test_a_claim_whose_process_ended_is_recovered_before_its_lease_runs_out(rows):
    _, job_id, _ = rows
    ended = subprocess.Popen(["true"])
    ended.wait()
    dead = owner_tag().removesuffix(f".{os.getpid()}") + f".{ended.pid}"
    assert JOB_CLAIMS.claim(db.session, job_id, dead, now=T0)
    assert JOB_CLAIMS.recover(db.session, now=T0) == [job_id]
    db.session.commit()
    assert db.session.get(SyncJob, job_id).lease_owner is None
    # a live holder (this process) keeps its claim until the lease ends
    assert JOB_CLAIMS.claim(db.session, job_id, owner_tag(), now=T0)
    assert JOB_CLAIMS.recover(db.session, now=T0) == []


def test_backoff_doubles_up_to_its_cap():
    assert [backoff(n, 5, 60) for n in range(1, 6)] == [5, 10, 20, 40, 60]
    assert backoff(0, 5, 60) == 5  # a first attempt never waits less than `first`
    assert backoff(5000, 5, 60) == 60  # days of failures: still the cap, not an overflow
