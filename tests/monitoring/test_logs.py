"""GET /api/v1/logs: recent records from the in-memory buffer, filtered and scoped."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from syncapp.auth.accounts import find_user
from syncapp.logs import working_for
from syncapp.syncs.runner import run_now
from tests.conftest import bearer, make_token, make_user
from tests.monitoring.helpers import client_of, make_job
from tests.syncs.helpers import write_tree

log = logging.getLogger("syncapp.tests.monitoring")


def _records(client, **query) -> list[dict]:
    response = client.get("/api/v1/logs", query_string=query)
    assert response.status_code == 200, response.json
    assert response.json["count"] == len(response.json["records"])
    return response.json["records"]


def test_a_run_is_logged_with_its_job(sync_app, sync_client, sync_root):
    job = make_job(sync_client, sync_root, "docs")
    write_tree(sync_root / "docs" / "src", {"a.txt": b"a"})
    with sync_app.app_context():
        run_id = run_now(job["id"]).id
    records = _records(sync_client, job=job["id"])
    started = [r for r in records if r["message"].startswith(f"sync run {run_id} ")]
    assert started, records
    record = started[0]
    assert record["job"] == job["id"] and record["level"] == "INFO"
    assert record["logger"] == "syncapp.syncs.engine"
    assert record["time"].endswith("Z") and "request_id" in record


def test_level_job_since_and_limit_filter(sync_app, sync_client, sync_root):
    first = make_job(sync_client, sync_root, "one")
    second = make_job(sync_client, sync_root, "two")
    log.info("routine for one", extra={"job": first["id"]})
    log.warning("trouble for one", extra={"job": first["id"]})
    log.error("failure for two", extra={"job": second["id"]})

    at_least_warning = _records(sync_client, level="warning")
    assert [r["message"] for r in at_least_warning] == ["trouble for one", "failure for two"]
    assert {r["message"] for r in _records(sync_client, job=second["id"])} == {"failure for two"}
    assert _records(sync_client, limit=1)[0]["message"] == "failure for two"  # the newest
    future = (datetime.now(UTC) + timedelta(minutes=1)).isoformat()
    assert _records(sync_client, since=future) == []
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat().replace("+00:00", "Z")
    assert len(_records(sync_client, since=past)) >= 3


def test_bad_filters_are_refused(sync_client):
    for query in ({"limit": 1001}, {"limit": 0}, {"level": "LOUD"}, {"since": "yesterday"}):
        response = sync_client.get("/api/v1/logs", query_string=query)
        assert response.status_code == 400, query
        assert response.json["status"] == "error"


def test_a_user_sees_only_their_jobs_records(sync_app, sync_client, sync_root):
    mine = make_job(sync_client, sync_root, "mine")
    bob = client_of(sync_app, "bob@example.com")
    theirs = make_job(bob, sync_root, "theirs")
    log.warning("about mine", extra={"job": mine["id"]})
    log.warning("about theirs", extra={"job": theirs["id"]})
    log.warning("about the service")

    assert [r["message"] for r in _records(sync_client, level="WARNING")] == ["about mine"]
    assert [r["message"] for r in _records(bob, level="WARNING")] == ["about theirs"]
    admin = client_of(sync_app, "root@example.com", role="admin")
    assert [r["message"] for r in _records(admin, level="WARNING")] == [
        "about mine", "about theirs", "about the service",
    ]  # fmt: skip
    owners = [r.get("owner") for r in _records(admin, level="WARNING")]
    assert owners == [mine["owner_id"], theirs["owner_id"], None]


def test_another_users_job_answers_like_a_missing_one(sync_app, sync_client, sync_root):
    mine = make_job(sync_client, sync_root, "mine")
    bob = client_of(sync_app, "bob@example.com")
    log.warning("about %s", mine["name"], extra={"job": mine["id"]})
    theirs = bob.get("/api/v1/logs", query_string={"job": mine["id"]})
    missing = bob.get("/api/v1/logs", query_string={"job": mine["id"] + 1000})
    assert theirs.status_code == missing.status_code == 404
    assert theirs.json["error"] == missing.json["error"] == "sync_not_found"
    assert str(mine["id"]) in theirs.json["message"] and "mine" not in theirs.get_data(True)
    assert [r["message"] for r in _records(sync_client, job=mine["id"])] == ["about mine"]


def test_a_deleted_jobs_records_stay_their_owners(sync_app, sync_client, sync_root):
    """The id of a deleted job is never another user's: its records stay with its owner."""
    gone = make_job(sync_client, sync_root, "gone")
    log.warning("about gone.txt", extra={"job": gone["id"]})
    assert sync_client.delete(f"/api/v1/syncs/{gone['id']}").status_code in (200, 204)
    bob = client_of(sync_app, "bob@example.com")
    new = make_job(bob, sync_root, "new")
    assert new["id"] != gone["id"]
    assert _records(bob) == []
    assert bob.get("/api/v1/logs", query_string={"job": gone["id"]}).status_code == 404
    assert [r["message"] for r in _records(sync_client)] == ["about gone.txt"]


def test_feature_records_in_a_request_belong_to_its_user(sync_app, sync_client):
    """A feature's record logged while a user's request runs is that user's; a record of the
    service's own machinery (errors, storage) stays with administrators, as do tracebacks."""
    feature = logging.getLogger("syncapp.documents.tests")
    service = logging.getLogger("syncapp.storage.tests")

    @sync_app.route("/api/v1/test-logging")
    def log_in_a_request():
        feature.warning("stored invoice.pdf")
        service.warning("s3 endpoint http://10.0.0.5:9000 answered 500")
        try:
            raise ValueError("in the code")
        except ValueError:
            feature.exception("could not keep receipt.pdf")
        return {}

    assert sync_client.get("/api/v1/test-logging").status_code == 200
    mine = _records(sync_client)
    assert [r["message"] for r in mine] == ["stored invoice.pdf", "could not keep receipt.pdf"]
    assert all("exception" not in r for r in mine)
    bob = client_of(sync_app, "bob@example.com")
    assert _records(bob) == []
    admin = client_of(sync_app, "root@example.com", role="admin")
    every = _records(admin)
    assert [r["message"] for r in every][:3] == [
        "stored invoice.pdf", "s3 endpoint http://10.0.0.5:9000 answered 500",
        "could not keep receipt.pdf",
    ]  # fmt: skip
    assert "ValueError: in the code" in every[2]["exception"]


def test_background_work_logs_for_the_user_it_works_for(sync_app, sync_client):
    bob = client_of(sync_app, "bob@example.com")
    with sync_app.app_context():
        bob_id = find_user("bob@example.com").id
    with working_for(bob_id):
        logging.getLogger("syncapp.cloud.tests").warning("copied report.pdf to s3")
        log.warning("not a feature's record")
    assert [r["message"] for r in _records(bob)] == ["copied report.pdf to s3"]
    assert _records(sync_client) == []


def test_secrets_are_masked_in_the_buffer(make_app):
    app = make_app()
    make_user(app, "root@example.com", role="admin")
    raw = make_token(app, "root@example.com")
    log.warning("calling with token=%s and https://u:hunter2@nas/x", raw)
    body = app.test_client().get("/api/v1/logs", headers=bearer(raw)).get_data(as_text=True)
    assert "calling with token=" in body
    assert raw not in body and "hunter2" not in body


def test_the_buffer_keeps_only_the_newest_records(make_app):
    app = make_app(monitoring={"log_buffer_size": 3})
    make_user(app, "root@example.com", role="admin")
    headers = bearer(make_token(app, "root@example.com"))
    for number in range(5):
        log.warning("record %d", number)
    body = app.test_client().get("/api/v1/logs", headers=headers).json
    assert body["buffer_size"] == 3
    assert [r["message"] for r in body["records"]] == ["record 2", "record 3", "record 4"]
