"""/api/v1/syncs: seed 000's endpoints and fields, validation, paths, ownership."""

from __future__ import annotations

import os
from datetime import datetime

import pytest

from syncapp.config import ConfigError, load_settings
from syncapp.extensions import db
from syncapp.syncs.models import SyncFile, SyncIndexEntry, SyncJob
from syncapp.syncs.runner import run_now, start_dispatcher, stop_dispatcher
from tests.conftest import bearer, make_token, make_user
from tests.peers.process import wait_until
from tests.syncs.helpers import write_tree

SEED_FIELDS = {"name", "source_path", "destination_path", "delete_after_sync", "sync_interval",
               "enabled"}  # fmt: skip


def new_job(client, sync_root, **fields):
    body = {
        "name": "Backup Documenti",
        "source_path": str(sync_root / "src"),
        "destination_path": str(sync_root / "dst"),
        **fields,
    }
    reply = client.post("/api/v1/syncs", json=body)
    assert reply.status_code == 201, reply.json
    return reply.json


def test_seed_example_creates_a_job_with_the_seed_fields(sync_client, sync_root):
    job = new_job(sync_client, sync_root, delete_after_sync=True, sync_interval=5, enabled=True)
    assert set(job) >= SEED_FIELDS
    assert job["delete_after_sync"] is True and job["sync_interval"] == 5
    assert job["source_path"] == os.path.realpath(sync_root / "src")
    listed = sync_client.get("/api/v1/syncs").json
    assert [j["id"] for j in listed["syncs"]] == [job["id"]] and listed["total"] == 1
    assert sync_client.get(f"/api/v1/syncs/{job['id']}").json["name"] == "Backup Documenti"


def test_defaults_come_from_the_sync_settings(sync_client, sync_root):
    job = new_job(sync_client, sync_root)
    assert job["sync_interval"] == 5 and job["max_retries"] == 3 and job["retry_delay"] == 10
    assert job["workers"] == 8 and job["realtime"] is False and job["enabled"] is True
    assert job["include"] == [] and job["exclude"] == []


def test_every_seed_endpoint_answers(sync_app, sync_client, sync_root):
    write_tree(sync_root / "src", {"a.txt": b"hello"})
    job_id = new_job(sync_client, sync_root)["id"]
    base = f"/api/v1/syncs/{job_id}"
    assert sync_client.put(base, json={"sync_interval": 60}).json["sync_interval"] == 60
    assert sync_client.post(f"{base}/stop").json["enabled"] is False
    assert sync_client.get(f"{base}/status").json["state"] == "stopped"
    assert sync_client.post(f"{base}/start").json["enabled"] is True
    forced = sync_client.post(f"{base}/force")
    assert forced.status_code == 202 and forced.json["run_id"] > 0
    with sync_app.app_context():
        run = run_now(job_id)
    assert run.id == forced.json["run_id"] and run.status == "completed"
    status = sync_client.get(f"{base}/status").json
    assert status["last_run"]["files_copied"] == 1 and status["files_synced"] == 1
    assert sync_client.get(f"{base}/files").json == {
        "files": [], "total": 0, "limit": 100, "offset": 0
    }  # fmt: skip
    history = sync_client.get(f"{base}/history").json
    assert [r["status"] for r in history["runs"]] == ["completed", "cancelled"]  # stop cancelled
    assert history["runs"][0]["bytes_copied"] == 5
    retried = sync_client.post(f"{base}/retry")
    assert retried.status_code == 202 and retried.json["requeued"] == 0
    assert sync_client.delete(base).status_code == 204
    assert sync_client.get(base).status_code == 404


def test_force_returns_at_once_and_coalesces(sync_client, sync_root):
    job_id = new_job(sync_client, sync_root)["id"]  # creating queues a first run
    first = sync_client.post(f"/api/v1/syncs/{job_id}/force").json
    second = sync_client.post(f"/api/v1/syncs/{job_id}/force").json
    assert first["run_id"] == second["run_id"]
    assert sync_client.get(f"/api/v1/syncs/{job_id}/history").json["runs"][0]["status"] == "queued"


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"sync_interval": 0}, "sync_interval"),
        ({"workers": 0}, "workers"),
        ({"name": ""}, "name"),
        ({"include": "*.txt"}, "include"),
        ({"enabled": "maybe"}, "enabled"),
    ],
)
def test_invalid_fields_are_refused_with_their_name(sync_client, sync_root, fields, field):
    reply = sync_client.post(
        "/api/v1/syncs",
        json={
            "name": "x",
            "source_path": str(sync_root / "src"),
            "destination_path": str(sync_root / "dst"),
            **fields,
        },
    )
    assert reply.status_code == 400
    assert reply.json["error"] == "validation_error" and field in reply.json["errors"]


def test_missing_fields_are_named(sync_client):
    reply = sync_client.post("/api/v1/syncs", json={"name": "x"})
    assert reply.status_code == 400
    assert {"source_path", "destination_path"} <= set(reply.json["errors"])


def _refused(client, source, destination, field, status=400, code="invalid_path"):
    reply = client.post(
        "/api/v1/syncs",
        json={"name": "x", "source_path": str(source), "destination_path": str(destination)},
    )
    assert reply.status_code == status, reply.json
    assert reply.json["error"] == code and reply.json["field"] == field
    return reply.json["message"]


def test_paths_outside_the_users_folders_are_refused_whether_they_exist_or_not(
    sync_client, sync_root, tmp_path
):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    not_allowed = {"status": 403, "code": "folder_not_allowed"}
    message = _refused(sync_client, outside, sync_root / "dst", "source_path", **not_allowed)
    assert "not in a sync folder" in message
    missing = tmp_path / "elsewhe_"
    assert _refused(
        sync_client, missing, sync_root / "dst", "source_path", **not_allowed
    ) == message.replace(str(outside), str(missing))
    _refused(sync_client, sync_root / "src", outside, "destination_path", **not_allowed)
    _refused(sync_client, "/etc", sync_root / "dst", "source_path", **not_allowed)


def test_dot_dot_and_relative_paths_are_refused(sync_client, sync_root):
    sneaky = f"{sync_root}/src/../../../etc"
    assert "'..'" in _refused(sync_client, sneaky, sync_root / "dst", "source_path")
    _refused(sync_client, sync_root / "src", f"{sync_root}/dst/../dst", "destination_path")
    _refused(sync_client, "roots/src", sync_root / "dst", "source_path")


def test_a_symlink_leading_outside_is_refused(sync_client, sync_root, tmp_path):
    outside = tmp_path / "secret"
    outside.mkdir()
    (sync_root / "link").symlink_to(outside)
    _refused(sync_client, sync_root / "link", sync_root / "dst", "source_path")


def test_overlapping_source_and_destination_are_refused(sync_client, sync_root):
    _refused(sync_client, sync_root / "src", sync_root / "src" / "copy", "destination_path")
    _refused(sync_client, sync_root / "dst" / "in", sync_root / "dst", "destination_path")
    _refused(sync_client, sync_root / "src", sync_root / "src", "destination_path")


def test_an_update_is_checked_like_a_creation(sync_client, sync_root, tmp_path):
    job_id = new_job(sync_client, sync_root)["id"]
    reply = sync_client.put(f"/api/v1/syncs/{job_id}", json={"destination_path": str(tmp_path)})
    assert reply.status_code == 403 and reply.json["field"] == "destination_path"
    assert sync_client.get(f"/api/v1/syncs/{job_id}").json["destination_path"].endswith("dst")


def test_an_unknown_destination_remote_is_refused(sync_client, sync_root):
    reply = sync_client.post(
        "/api/v1/syncs",
        json={"name": "x", "source_path": str(sync_root / "src"), "destination_path": "backup",
              "destination_remote": "nas"},
    )  # fmt: skip
    assert reply.status_code == 400 and reply.json["error"] == "unknown_remote"


def test_names_are_unique_per_user(sync_client, sync_root):
    new_job(sync_client, sync_root)
    reply = sync_client.post(
        "/api/v1/syncs",
        json={"name": "Backup Documenti", "source_path": str(sync_root / "src"),
              "destination_path": str(sync_root / "dst")},
    )  # fmt: skip
    assert reply.status_code == 409 and reply.json["error"] == "sync_exists"


def test_moving_the_destination_forgets_what_was_copied(sync_app, sync_client, sync_root):
    write_tree(sync_root / "src", {"a": b"1", "b": b"2"})
    job_id = new_job(sync_client, sync_root)["id"]
    with sync_app.app_context():
        run_now(job_id)
    (sync_root / "dst2").mkdir()
    sync_client.put(f"/api/v1/syncs/{job_id}", json={"destination_path": str(sync_root / "dst2")})
    with sync_app.app_context():
        assert db.session.query(SyncIndexEntry).filter_by(job_id=job_id).count() == 0
        run = run_now(job_id)
    assert run.files_copied == 2 and (sync_root / "dst2" / "a").read_bytes() == b"1"


def test_a_new_interval_reschedules_the_next_run(sync_app, sync_client, sync_root):
    """The next run follows a changed sync_interval from the end of the last run, shorter or
    longer (issue 17 item 16: it stayed an hour away)."""
    write_tree(sync_root / "src", {"a.txt": b"a"})
    job = new_job(sync_client, sync_root, sync_interval=3600)
    base = f"/api/v1/syncs/{job['id']}"

    def runs() -> list[dict]:
        return sync_client.get(f"{base}/history").json["runs"]

    def next_run_in(reply: dict) -> float:
        [last] = [r for r in runs() if r["status"] != "queued"][:1]
        finished = datetime.fromisoformat(last["finished_at"])
        return (datetime.fromisoformat(reply["next_run_at"]) - finished).total_seconds()

    start_dispatcher(sync_app)
    try:
        wait_until(lambda: runs()[0]["status"] == "completed", timeout=60)
        first = runs()[0]["id"]
        assert next_run_in(sync_client.get(base).json) == 3600
        assert next_run_in(sync_client.put(base, json={"sync_interval": 7200}).json) == 7200
        assert next_run_in(sync_client.put(base, json={"sync_interval": 1}).json) == 1
        wait_until(lambda: runs()[0]["id"] != first and runs()[0]["finished_at"], timeout=60)
    finally:
        stop_dispatcher(sync_app)


def test_endpoints_need_a_token(client):
    calls = [
        ("get", "/api/v1/syncs"),
        ("post", "/api/v1/syncs"),
        ("get", "/api/v1/syncs/1/status"),
        ("post", "/api/v1/syncs/1/force"),
    ]
    for method, path in calls:
        assert getattr(client, method)(path).status_code == 401


def test_seed_api_key_is_accepted(make_app, sync_root):
    app = make_app(
        sync={"allowed_roots": [str(sync_root)]}, security={"api_key": "seed-000-secret-key"}
    )
    make_user(app, "root@example.com", role="admin")  # the shared key acts for the first admin
    reply = app.test_client().get("/api/v1/syncs", headers={"X-API-Key": "seed-000-secret-key"})
    assert reply.status_code == 200


def test_a_user_never_sees_another_users_job(sync_app, sync_client, sync_root):
    job_id = new_job(sync_client, sync_root)["id"]
    make_user(sync_app, "bob@example.com")
    bob = bearer(make_token(sync_app, "bob@example.com"))
    other = sync_app.test_client()
    for method, suffix in [("get", ""), ("put", ""), ("delete", ""), ("get", "/status"),
                           ("get", "/files"), ("get", "/history"), ("post", "/force"),
                           ("post", "/stop"), ("post", "/retry")]:  # fmt: skip
        kwargs = {"json": {"enabled": False}} if method == "put" else {}
        reply = getattr(other, method)(f"/api/v1/syncs/{job_id}{suffix}", headers=bob, **kwargs)
        assert reply.status_code == 404, (method, suffix)
    assert other.get("/api/v1/syncs", headers=bob).json["total"] == 0
    with sync_app.app_context():
        assert db.session.get(SyncJob, job_id).enabled is True


def test_an_admin_sees_every_job(sync_app, sync_client, sync_root):
    job_id = new_job(sync_client, sync_root)["id"]
    make_user(sync_app, "root@example.com", role="admin")
    admin = bearer(make_token(sync_app, "root@example.com"))
    assert sync_app.test_client().get(f"/api/v1/syncs/{job_id}", headers=admin).status_code == 200


def test_a_running_job_cannot_be_deleted(sync_app, sync_client, sync_root):
    job_id = new_job(sync_client, sync_root)["id"]
    with sync_app.app_context():
        job = db.session.get(SyncJob, job_id)
        job.lease_owner = "elsewhere.1"
        db.session.commit()
    reply = sync_client.delete(f"/api/v1/syncs/{job_id}")
    assert reply.status_code == 409 and reply.json["error"] == "sync_running"


def test_retry_requeues_failed_files(sync_app, sync_client, sync_root):
    job_id = new_job(sync_client, sync_root)["id"]
    with sync_app.app_context():
        db.session.add(SyncFile(job_id=job_id, path="x", size=1, state="failed", attempts=3))
        db.session.commit()
    assert sync_client.get(f"/api/v1/syncs/{job_id}/files?state=failed").json["total"] == 1
    assert sync_client.post(f"/api/v1/syncs/{job_id}/retry").json["requeued"] == 1
    files = sync_client.get(f"/api/v1/syncs/{job_id}/files").json["files"]
    assert files[0]["state"] == "pending" and files[0]["attempts"] == 0


def test_requests_are_rate_limited_per_user(make_app, sync_root):
    app = make_app(sync={"allowed_roots": [str(sync_root)]}, ratelimit={"syncs": "3 per minute"})
    make_user(app, "ana@example.com")
    make_user(app, "bob@example.com")
    ana, bob = (bearer(make_token(app, f"{n}@example.com")) for n in ("ana", "bob"))
    client = app.test_client()
    assert [client.get("/api/v1/syncs", headers=ana).status_code for _ in range(4)] == [
        200, 200, 200, 429
    ]  # fmt: skip
    assert client.get("/api/v1/syncs", headers=bob).status_code == 200


@pytest.mark.parametrize("entry", ["/srv/{user}", "/srv/{user_id", "/srv/{user_id}/../x"])
def test_a_root_with_an_unknown_placeholder_stops_start_up(entry):
    with pytest.raises(ConfigError, match="allowed_roots"):
        load_settings({"sync": {"allowed_roots": ["/srv/sync", entry]}}, environ={})
