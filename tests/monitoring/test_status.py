"""GET /api/v1/status: the service, the scheduler's leader, and the caller's jobs by state."""

from __future__ import annotations

import os
from collections import Counter

import pytest

from syncapp.extensions import db
from syncapp.scheduler import start_scheduler
from syncapp.syncs.models import SyncFile
from syncapp.syncs.runner import stop_dispatcher
from tests.conftest import bearer, make_token, make_user
from tests.monitoring.helpers import client_of, make_job


@pytest.mark.parametrize("path", ["/api/v1/status", "/api/v1/metrics", "/api/v1/logs", "/metrics"])
def test_service_endpoints_need_a_token(sync_app, path):
    response = sync_app.test_client().get(path)
    assert response.status_code == 401
    assert response.get_json()["error"] == "unauthorized"


def test_status_describes_the_service(sync_client):
    body = sync_client.get("/api/v1/status").get_json()
    assert body["status"] == "running"
    assert body["version"] == __import__("syncapp").__version__
    assert body["pid"] == os.getpid()
    assert body["uptime_seconds"] >= 0
    assert body["started_at"].endswith("Z") and body["time"].endswith("Z")
    assert body["scheduler"] == {
        "role": "testing",
        "enabled": False,
        "leader": False,
        "scheduler_running": False,
        "dispatcher_running": False,
        "pid": os.getpid(),
        "leader_elsewhere": False,
        "leader_pid": None,
    }
    assert body["jobs_total"] == 0 and body["queue_length"] == 0
    assert set(body["jobs_by_state"]) >= {"idle", "running", "error", "waiting_destination"}


def _queue(app, job_id: int, *paths: str) -> None:
    with app.app_context():
        db.session.add_all(SyncFile(job_id=job_id, path=p, size=1) for p in paths)
        db.session.commit()


def _states(client) -> Counter:
    return Counter(job["state"] for job in client.get("/api/v1/syncs").get_json()["syncs"])


def _nonzero(counts: dict[str, int]) -> Counter:
    return Counter({state: n for state, n in counts.items() if n})


def test_status_counts_only_the_callers_jobs(sync_app, sync_client, sync_root):
    first = make_job(sync_client, sync_root, "one")
    second = make_job(sync_client, sync_root, "two")
    assert sync_client.post(f"/api/v1/syncs/{second['id']}/stop").status_code == 200
    bob = client_of(sync_app, "bob@example.com")
    theirs = make_job(bob, sync_root, "bobs")
    _queue(sync_app, first["id"], "a", "b")
    _queue(sync_app, theirs["id"], "c")

    mine = sync_client.get("/api/v1/status").get_json()
    assert mine["jobs_total"] == 2
    assert _nonzero(mine["jobs_by_state"]) == _states(sync_client)
    assert mine["jobs_by_state"]["stopped"] == 1
    assert mine["queue_length"] == 2

    his = bob.get("/api/v1/status").get_json()
    assert (his["jobs_total"], his["queue_length"]) == (1, 1)
    assert _nonzero(his["jobs_by_state"]) == _states(bob)

    admin = client_of(sync_app, "root@example.com", role="admin")
    everyone = admin.get("/api/v1/status").get_json()
    assert (everyone["jobs_total"], everyone["queue_length"]) == (3, 3)


def test_leader_follower_and_a_missing_leader_are_reported(make_app):
    """Three apps on one instance folder, as three processes would be: the first leads."""
    leader = make_app(TESTING=False)
    follower = make_app(TESTING=False)
    bystander = make_app(TESTING=False)  # never started: a `flask` command, say
    make_user(leader, "root@example.com", role="admin")
    admin = bearer(make_token(leader, "root@example.com"))
    start_scheduler(leader)
    start_scheduler(follower)
    follower.extensions["syncapp.scheduler"]["stop"].set()  # no takeover during the test
    state = leader.extensions["syncapp.scheduler"]
    try:
        status = leader.test_client().get("/api/v1/status", headers=admin).get_json()
        assert status["scheduler"]["role"] == "leader" and status["scheduler"]["leader"] is True
        assert status["scheduler"]["scheduler_running"] is True
        assert status["scheduler"]["dispatcher_running"] is True
        assert status["scheduler"]["leader_pid"] == os.getpid()
        health = leader.test_client().get("/api/v1/health", headers=admin).get_json()
        assert health["checks"]["scheduler"]["status"] == "ok"
        assert "leads" in health["checks"]["scheduler"]["detail"]

        status = follower.test_client().get("/api/v1/status", headers=admin).get_json()
        seen = status["scheduler"]
        assert (seen["role"], seen["leader"], seen["leader_elsewhere"]) == (
            "follower", False, True,
        )  # fmt: skip
        assert seen["leader_pid"] == os.getpid()  # the lock file names the leader's pid
        health = bystander.test_client().get("/api/v1/health", headers=admin).get_json()
        assert health["checks"]["scheduler"]["status"] == "ok"
        assert "not started in this process" in health["checks"]["scheduler"]["detail"]
    finally:
        state["stop"].set()  # a PostgreSQL leader watches its lock: no re-election here
        state["scheduler"].shutdown(wait=False)
        stop_dispatcher(leader)
        state["lock"].release()  # what the kernel (or PostgreSQL) does when the leader dies

    response = bystander.test_client().get("/api/v1/health")
    assert response.status_code == 503
    assert response.get_json()["checks"]["scheduler"] == {"status": "error"}
    detail = bystander.test_client().get("/api/v1/health", headers=admin).get_json()
    assert "no process holds the scheduler lock" in detail["checks"]["scheduler"]["detail"]


def test_the_json_endpoints_are_in_the_openapi_document(client, token):
    spec = client.get("/api/v1/openapi.json", headers=bearer(token)).get_json()
    for path in ("/api/v1/status", "/api/v1/metrics", "/api/v1/logs", "/api/v1/health"):
        response = spec["paths"][path]["get"]["responses"]["200"]
        assert "schema" in response["content"]["application/json"], path
    assert {p["name"] for p in spec["paths"]["/api/v1/logs"]["get"]["parameters"]} == {
        "level", "job", "since", "limit",
    }  # fmt: skip
