"""GET /api/v1/metrics (JSON from the database) and GET /metrics (Prometheus text)."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.parser import text_string_to_metric_families

from syncapp.syncs.runner import run_now
from tests.conftest import bearer, make_token, make_user
from tests.monitoring.helpers import client_of, make_job
from tests.syncs.helpers import write_tree

FILES = {"a.txt": b"a" * 10, "d/b.bin": b"b" * 5000, "d/e/c": b""}


def _job_with_runs(app, client, root, name: str, runs: int = 1) -> dict:
    job = make_job(client, root, name)
    write_tree(root / name / "src", FILES)
    with app.app_context():
        for _ in range(runs):
            assert run_now(job["id"]).status == "completed"
    return job


def test_json_metrics_sum_every_run_of_each_job(sync_app, sync_client, sync_root):
    job = _job_with_runs(sync_app, sync_client, sync_root, "docs", runs=2)
    body = sync_client.get("/api/v1/metrics").get_json()
    [metrics] = body["jobs"]
    assert metrics["job_id"] == job["id"] and metrics["name"] == "docs"
    assert metrics["files_copied"] == 3  # the second run found nothing new
    assert metrics["files_skipped"] == 3
    assert metrics["files_failed"] == 0
    assert metrics["bytes_copied"] == sum(len(data) for data in FILES.values())
    assert metrics["runs"]["completed"] == 2 and metrics["runs"]["failed"] == 0
    assert metrics["last_run_status"] == "completed"
    assert metrics["last_run_duration"] >= 0
    assert metrics["queue_length"] == 0
    totals = body["totals"]
    assert (totals["jobs"], totals["files_copied"], totals["runs"]["completed"]) == (1, 3, 2)
    assert totals["bytes_copied"] == metrics["bytes_copied"]


def test_json_metrics_show_a_user_only_their_jobs(sync_app, sync_client, sync_root):
    mine = _job_with_runs(sync_app, sync_client, sync_root, "mine")
    bob = client_of(sync_app, "bob@example.com")
    theirs = make_job(bob, sync_root, "theirs")
    assert [j["job_id"] for j in sync_client.get("/api/v1/metrics").json["jobs"]] == [mine["id"]]
    assert [j["job_id"] for j in bob.get("/api/v1/metrics").json["jobs"]] == [theirs["id"]]
    assert bob.get("/api/v1/metrics").json["totals"]["files_copied"] == 0
    admin = client_of(sync_app, "root@example.com", role="admin")
    everyone = admin.get("/api/v1/metrics").json
    assert [j["job_id"] for j in everyone["jobs"]] == [mine["id"], theirs["id"]]
    assert everyone["totals"]["files_copied"] == 3


def test_metrics_can_be_turned_off(make_app):
    app = make_app(monitoring={"enable_metrics": False})
    make_user(app, "root@example.com", role="admin")
    headers = bearer(make_token(app, "root@example.com"))
    client = app.test_client()
    for path in ("/api/v1/metrics", "/metrics"):
        response = client.get(path, headers=headers)
        assert response.status_code == 404, path
        assert response.get_json()["error"] == "metrics_disabled"
        assert "monitoring.enable_metrics" in response.get_json()["message"]


def _samples(client) -> dict[tuple[str, tuple], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == CONTENT_TYPE_LATEST
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.get_data(as_text=True))
        for sample in family.samples
    }


def test_prometheus_text_counts_a_run(sync_app, sync_client, sync_root):
    admin = client_of(sync_app, "root@example.com", role="admin")
    job = make_job(sync_client, sync_root, "docs")
    label = str(job["id"])
    # The counters live as long as the process: other tests may have counted a job "1" too.
    before = _samples(admin)
    write_tree(sync_root / "docs" / "src", FILES)
    with sync_app.app_context():
        run_now(job["id"])
    after = _samples(admin)

    def grew(name: str, **labels: str) -> float:
        key = (name, tuple(sorted({"job": label, **labels}.items())))
        return after[key] - before.get(key, 0.0)

    assert grew("syncapp_sync_files_total", outcome="copied") == 3
    assert grew("syncapp_sync_bytes_total") == sum(len(data) for data in FILES.values())
    assert grew("syncapp_sync_runs_total", status="completed") == 1
    assert grew("syncapp_sync_run_duration_seconds_count") == 1
    assert after[("syncapp_sync_queue_length", (("job", label),))] == 0
    assert sum(v for (name, _), v in after.items() if name == "syncapp_sync_jobs") == 1


def test_prometheus_gauges_read_the_queue_and_job_states(sync_app, sync_client, sync_root):
    from syncapp.extensions import db
    from syncapp.syncs.models import SyncFile

    job = make_job(sync_client, sync_root, "docs")
    with sync_app.app_context():
        db.session.add_all(SyncFile(job_id=job["id"], path=f"f{i}", size=1) for i in range(4))
        db.session.commit()
    samples = _samples(sync_client)
    assert samples[("syncapp_sync_queue_length", (("job", str(job["id"])),))] == 4
    assert samples[("syncapp_sync_jobs", (("state", job["state"]),))] == 1


def test_a_users_scrape_leaves_out_other_users_jobs(sync_app, sync_client, sync_root):
    mine = _job_with_runs(sync_app, sync_client, sync_root, "mine")
    bob = client_of(sync_app, "bob@example.com")
    theirs = make_job(bob, sync_root, "theirs")
    labelled = {dict(labels).get("job") for _, labels in _samples(bob)} - {None}
    assert labelled == {str(theirs["id"])}
    mine_seen = {dict(labels).get("job") for _, labels in _samples(sync_client)} - {None}
    assert str(mine["id"]) in mine_seen and str(theirs["id"]) not in mine_seen


def test_several_apps_in_one_process_share_the_collector(make_app):
    """The DB-reading collector is registered once per process, not once per app: a second app
    raises no duplicate-name error and both scrape through it."""
    first, second = make_app(), make_app(sync={"batch_size": 7})
    for app in (first, second):
        make_user(app, f"root{id(app)}@example.com", role="admin")
        headers = bearer(make_token(app, f"root{id(app)}@example.com"))
        response = app.test_client().get("/metrics", headers=headers)
        assert response.status_code == 200
        assert "syncapp_sync_jobs{" in response.get_data(as_text=True)
