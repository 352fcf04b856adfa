"""/api/v1/health's scheduler and sync destination checks, and what anonymous callers see."""

from __future__ import annotations

import shutil

import pytest

from syncapp.auth.accounts import find_user
from syncapp.monitoring.checks import DestinationWatch, stop_destination_watch
from syncapp.remotes.catalog import create_remote
from tests.conftest import bearer, make_token, make_user
from tests.monitoring.helpers import client_of, make_job
from tests.peers.process import free_port


def checked(app) -> None:
    """One round of the background destination checks, run here (TESTING starts no thread)."""
    DestinationWatch.of(app).refresh()


def test_anonymous_callers_get_liveness_statuses_only(sync_app, sync_client, sync_root):
    make_job(sync_client, sync_root, "docs")
    checked(sync_app)
    anonymous = sync_app.test_client().get("/api/v1/health")
    assert anonymous.status_code == 200
    checks = anonymous.get_json()["checks"]
    assert set(checks) == {"database", "scheduler"}
    assert all(result == {"status": "ok"} for result in checks.values())
    assert str(sync_root) not in anonymous.get_data(as_text=True)

    detailed = sync_client.get("/api/v1/health").get_json()["checks"]
    assert "TESTING" in detailed["scheduler"]["detail"]
    assert detailed["sync_destinations"]["detail"].startswith("1 of 1 destination(s) reachable")
    [job] = detailed["sync_destinations"]["jobs"]
    assert (job["name"], job["status"], job["detail"]) == ("docs", "ok", "reachable")


def test_a_removed_local_destination_is_reported(sync_app, sync_client, sync_root):
    gone = make_job(sync_client, sync_root, "gone")
    make_job(sync_client, sync_root, "fine")
    shutil.rmtree(sync_root / "gone" / "dst")
    checked(sync_app)

    # A user's broken destination is theirs to see; the service itself is alive.
    anonymous = sync_app.test_client().get("/api/v1/health")
    assert anonymous.status_code == 200
    assert "sync_destinations" not in anonymous.get_json()["checks"]
    assert str(sync_root) not in anonymous.get_data(as_text=True)

    response = sync_client.get("/api/v1/health")
    assert response.status_code == 200
    result = response.get_json()["checks"]["sync_destinations"]
    assert result["status"] == "error"
    assert result["detail"].startswith("1 of 2 destination(s) reachable")
    by_name = {job["name"]: job for job in result["jobs"]}
    assert by_name["gone"]["job_id"] == gone["id"] and by_name["gone"]["status"] == "error"
    assert "does not exist" in by_name["gone"]["detail"]
    assert by_name["fine"]["status"] == "ok"

    # Another user learns that a destination is down, not whose or where.
    bob = client_of(sync_app, "bob@example.com").get("/api/v1/health")
    assert bob.status_code == 200
    assert bob.get_json()["checks"]["sync_destinations"] == {
        "status": "ok", "detail": "no enabled sync jobs", "jobs": []
    }  # fmt: skip


def test_a_stopped_job_is_not_checked(sync_app, sync_client, sync_root):
    job = make_job(sync_client, sync_root, "paused")
    assert sync_client.post(f"/api/v1/syncs/{job['id']}/stop").status_code == 200
    shutil.rmtree(sync_root / "paused" / "dst")
    checked(sync_app)
    response = sync_client.get("/api/v1/health")
    assert response.status_code == 200
    assert response.get_json()["checks"]["sync_destinations"]["detail"] == "no enabled sync jobs"


def _remote_job(app, client, root, settings: dict) -> dict:
    make_user(app, "root@example.com", role="admin")
    with app.app_context():
        ana = find_user("ana@example.com").id  # sync_client's user, granted the remote
        create_remote("nas", "webdav", settings, [{"user_id": ana, "feature": "syncs"}])
    (root / "remote-src").mkdir()
    body = {
        "name": "to the nas",
        "source_path": str(root / "remote-src"),
        "destination_remote": "nas",
        "destination_path": "backups/docs",
    }
    reply = client.post("/api/v1/syncs", json=body)
    assert reply.status_code == 201, reply.json
    return reply.json


def test_a_webdav_destination_that_does_not_answer_is_reported(sync_app, sync_client, sync_root):
    url = f"http://127.0.0.1:{free_port()}/remote.php/dav/files/alice"  # nothing listens there
    _remote_job(sync_app, sync_client, sync_root,
                {"url": url, "username": "alice", "password": "s3cret-pass"})  # fmt: skip
    checked(sync_app)
    response = sync_client.get("/api/v1/health")
    assert response.status_code == 200  # alive; the job's destination is not
    [job] = response.get_json()["checks"]["sync_destinations"]["jobs"]
    # named, never its address: the owner of a job may not be allowed to know where it writes
    assert job["status"] == "error" and job["detail"].startswith("remote 'nas' did not answer")
    assert "127.0.0.1" not in job["detail"]
    admin = bearer(make_token(sync_app, "root@example.com"))
    assert "s3cret-pass" not in sync_client.get("/api/v1/health", headers=admin).get_data(
        as_text=True
    )


@pytest.mark.peer
def test_a_webdav_destination_that_answers_is_ok(sync_app, sync_client, sync_root, webdav_server):
    _remote_job(sync_app, sync_client, sync_root, dict(webdav_server.settings))
    checked(sync_app)
    response = sync_client.get("/api/v1/health")
    assert response.status_code == 200, response.json
    [job] = response.get_json()["checks"]["sync_destinations"]["jobs"]
    assert (job["status"], job["detail"]) == ("ok", "reachable")


def test_health_can_be_turned_off(make_app):
    response = make_app(monitoring={"enable_health": False}).test_client().get("/api/v1/health")
    assert response.status_code == 404
    assert response.get_json()["error"] == "health_disabled"


def test_the_background_destination_checks_end_when_their_app_is_torn_down(make_app):
    """Without TESTING, the first detailed health call starts the checks' thread; stopping the
    app's watch (the make_app fixture does, before its database goes) ends it, and no later
    call starts another."""
    app = make_app(TESTING=False)
    make_user(app, "root@example.com", role="admin")
    admin = bearer(make_token(app, "root@example.com"))
    health = app.test_client().get("/api/v1/health", headers=admin).get_json()
    assert "sync_destinations" in health["checks"]
    watch = DestinationWatch.of(app)
    thread = watch._thread
    assert thread is not None and thread.is_alive()

    stop_destination_watch(app)
    assert not thread.is_alive()
    app.test_client().get("/api/v1/health", headers=admin)
    assert watch._thread is thread and not thread.is_alive()
