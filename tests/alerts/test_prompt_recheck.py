"""What ends an owner's firing alert ends it at once, without waiting for the evaluation job
(alerts.wiring.recheck), as a backup upload does: a Cordiax snapshot arriving over Socket.IO,
imported by a share poller (its "run now" and the scheduler's job), and a sync run that did
its work. No evaluation runs between the event and the assertion."""

from __future__ import annotations

import shutil
from datetime import timedelta

from syncapp.cordiax import background as cordiax_background
from syncapp.cordiax.models import CordiaxPoller, CordiaxSnapshot
from syncapp.cordiax.wiring import snapshot_store
from syncapp.extensions import db
from syncapp.timeutil import utcnow
from tests.alerts.helpers import backdate, evaluate, firing_keys, transitions
from tests.alerts.test_subjects import _user_id, run
from tests.conftest import make_token, make_user
from tests.cordiax.payloads import encrypted_database
from tests.cordiax.test_pollers import FILE, create_poller, create_remote
from tests.cordiax.test_pollers import run as run_poller
from tests.cordiax.test_quota import cordiax_connection
from tests.syncs.test_api import new_job


def _silent(app, owner: int, device: str) -> str:
    with app.app_context():
        snapshot_store().store(owner, device, encrypted_database(2000, seed=1))
    backdate(app, CordiaxSnapshot, "received_at", timedelta(days=3))
    key = f"cordiax_silence:{owner}:{device}"
    assert evaluate(app)["fired"] == [key]
    return key


def test_a_snapshot_pushed_over_socketio_resolves_the_silence_at_once(app, user, token):
    key = _silent(app, _user_id(app, user), "front-desk")
    with cordiax_connection(app, token, "front-desk") as push:
        answer, errors = push(encrypted_database(2000, seed=2))
    assert answer["status"] == "ok" and errors == []
    assert firing_keys(app, "cordiax_silence") == set()
    assert transitions(app, key) == ["firing", "resolved"]


def test_a_snapshot_a_poller_imports_resolves_the_silence_at_once(app, tmp_path):
    make_user(app, "root@example.com", role="admin")
    alice = make_user(app, "alice@example.com")
    admin, alice_token = make_token(app, "root@example.com"), make_token(app, "alice@example.com")
    share = tmp_path / "share"
    (share / "cordiax_sync").mkdir(parents=True)
    client = app.test_client()
    remote = create_remote(client, admin, "local", {"root": str(share)}, grants=[alice])
    poller = create_poller(client, admin, remote, user_id=alice, device="alice-pc")

    key = _silent(app, alice, "alice-pc")
    (share / FILE).write_bytes(encrypted_database(3000, seed=3))
    assert run_poller(client, alice_token, poller["id"])["last_result"].startswith("imported ")
    assert firing_keys(app, "cordiax_silence") == set()  # "run now"

    # silent again; the scheduler's poll job imports the next file
    backdate(app, CordiaxSnapshot, "received_at", timedelta(days=3))
    assert evaluate(app)["fired"] == [key]
    (share / FILE).write_bytes(encrypted_database(3000, seed=4))
    with app.app_context():
        db.session.get(CordiaxPoller, poller["id"]).last_run = utcnow() - timedelta(days=1)
        db.session.commit()
        assert cordiax_background.pollers() == [poller["id"]]
    assert firing_keys(app, "cordiax_silence") == set()
    assert transitions(app, key) == ["firing", "resolved", "firing", "resolved"]


def test_a_successful_sync_run_resolves_the_failures_alert_at_once(
    sync_app, sync_client, sync_root
):
    (sync_root / "src" / "a.txt").write_bytes(b"alpha")
    job = new_job(sync_client, sync_root)
    key = f"sync_failures:{job['id']}"
    shutil.move(sync_root / "src", sync_root / "away")
    for _ in range(3):
        assert run(sync_app, job["id"]).status == "failed"
    assert evaluate(sync_app)["fired"] == [key]
    assert run(sync_app, job["id"]).status == "failed"  # still failing: still firing
    assert firing_keys(sync_app, "sync_failures") == {key}
    shutil.move(sync_root / "away", sync_root / "src")
    assert run(sync_app, job["id"]).status == "completed"
    assert firing_keys(sync_app, "sync_failures") == set()
    assert transitions(sync_app, key) == ["firing", "resolved"]
