"""Per-subject alerts with the clock driven by the test: a backup profile past its rhythm, a
silent Cordiax device, a sync job failing run after run; each fires once, and what the subject
was missing (a real upload, a snapshot, a successful run) resolves it once."""

from __future__ import annotations

import shutil
from datetime import timedelta

from syncapp.auth.accounts import find_user
from syncapp.backups.models import BackupArchive
from syncapp.cordiax.models import CordiaxSnapshot
from syncapp.cordiax.wiring import snapshot_store
from syncapp.syncs.runner import run_now
from syncapp.timeutil import utcnow
from tests.alerts.helpers import alert, backdate, evaluate, firing_keys, transitions
from tests.backups.helpers import make_archive, upload
from tests.cordiax.payloads import encrypted_database
from tests.syncs.test_api import new_job


def run(app, job_id: int):
    with app.app_context():
        return run_now(job_id)


def _user_id(app, email: str) -> int:
    with app.app_context():
        return find_user(email).id


def test_a_late_profile_fires_and_uploads_resolve_it(app, user, token):
    client = app.test_client()
    reply = upload(
        client, token, make_archive(1), "full_2026-01-01_00-00-00.tar.gz",
        type="FULL", profile="web01",
    )  # fmt: skip
    assert reply.status_code == 201, reply.get_json()
    owner = _user_id(app, user)
    any_key, full_key = f"backup_rhythm:{owner}:web01:ANY", f"backup_rhythm:{owner}:web01:FULL"

    assert evaluate(app)["fired"] == []  # just arrived: on time
    backdate(app, BackupArchive, "uploaded_at", timedelta(hours=27))
    assert evaluate(app)["fired"] == [any_key]  # over 26 h, under 7 days
    backdate(app, BackupArchive, "uploaded_at", timedelta(days=6))  # the FULL: 7 days 3 h
    assert evaluate(app)["fired"] == [full_key]
    assert firing_keys(app, "backup_rhythm") == {any_key, full_key}
    for _ in range(3):  # evaluated again and again: no new transition while it fires
        evaluate(app)
    assert transitions(app, any_key) == ["firing"]
    assert alert(app, any_key)["first_seen_at"] < alert(app, full_key)["first_seen_at"]

    # an INC arrives: the profile has an archive again, but still no recent FULL
    reply = upload(
        client, token, make_archive(2), "inc_2026-01-08_00-00-00.tar.gz",
        type="INC", profile="web01",
    )  # fmt: skip
    assert reply.status_code == 201, reply.get_json()
    # the upload itself re-evaluated the owner's firing profiles: resolved at once
    assert firing_keys(app, "backup_rhythm") == {full_key}
    assert evaluate(app)["resolved"] == []
    resolved = alert(app, any_key)
    assert resolved["state"] == "resolved" and resolved["resolved_at"] is not None

    reply = upload(
        client, token, make_archive(3), "full_2026-01-08_01-00-00.tar.gz",
        type="FULL", profile="web01",
    )  # fmt: skip
    assert reply.status_code == 201, reply.get_json()
    assert firing_keys(app, "backup_rhythm") == set()
    evaluate(app)
    assert transitions(app, any_key) == ["firing", "resolved"]
    assert transitions(app, full_key) == ["firing", "resolved"]

    # late again later (the test's clock): the same alert fires again, with a new first-seen time
    later = utcnow() + timedelta(hours=30)
    assert evaluate(app, later)["fired"] == [any_key]
    again = alert(app, any_key)
    assert again["state"] == "firing" and again["first_seen_at"] == later
    assert again["resolved_at"] is None
    assert transitions(app, any_key) == ["firing", "resolved", "firing"]


def test_a_silent_device_fires_and_a_snapshot_resolves_it(app, user):
    owner = _user_id(app, user)
    with app.app_context():
        snapshot_store().store(owner, "front-desk", encrypted_database(2000, seed=1))
    key = f"cordiax_silence:{owner}:front-desk"
    assert evaluate(app)["fired"] == []
    backdate(app, CordiaxSnapshot, "received_at", timedelta(days=3))
    assert evaluate(app)["fired"] == [key]
    evaluate(app)
    assert transitions(app, key) == ["firing"]
    with app.app_context():
        snapshot_store().store(owner, "front-desk", encrypted_database(2000, seed=2))
    assert evaluate(app)["resolved"] == [key]
    assert transitions(app, key) == ["firing", "resolved"]
    # the clock moves on without a snapshot: silent again
    assert evaluate(app, utcnow() + timedelta(hours=49))["fired"] == [key]


def test_a_failing_job_fires_at_its_limit_and_a_successful_run_resolves_it(
    sync_app, sync_client, sync_root
):
    (sync_root / "src" / "a.txt").write_bytes(b"alpha")
    job = new_job(sync_client, sync_root)
    key = f"sync_failures:{job['id']}"
    shutil.move(sync_root / "src", sync_root / "away")  # the source folder is gone
    for attempt in range(1, 4):
        assert run(sync_app, job["id"]).status == "failed"
        fired = evaluate(sync_app)["fired"]
        assert fired == ([key] if attempt == 3 else [])  # alerts.sync_max_failed_runs: 3
    run(sync_app, job["id"])
    evaluate(sync_app)
    assert transitions(sync_app, key) == ["firing"]
    assert "4 failed runs in a row" in alert(sync_app, key)["title"]  # the title follows

    shutil.move(sync_root / "away", sync_root / "src")
    assert run(sync_app, job["id"]).status == "completed"
    # the run itself re-evaluated the owner's firing job alerts: resolved at once
    assert evaluate(sync_app)["resolved"] == []
    assert transitions(sync_app, key) == ["firing", "resolved"]
