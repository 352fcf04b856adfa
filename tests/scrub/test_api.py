"""The scrub's API, page, CLI and Prometheus metrics."""

from __future__ import annotations

from syncapp.scrub.wiring import scrubber
from tests.conftest import bearer
from tests.scrub.helpers import flip_one_byte, scrub_pass, store_one_of_each


def test_only_administrators_ask_for_a_pass(app, token, admin_token):
    client = app.test_client()
    assert client.post("/api/v1/scrub").status_code == 401
    assert client.get("/api/v1/scrub").status_code == 401
    refused = client.post("/api/v1/scrub", headers=bearer(token))
    assert (refused.status_code == 403 and refused.get_json()["error"] == "forbidden") or (
        refused.status_code == 403
    )
    assert client.get("/api/v1/scrub", headers=bearer(token)).status_code == 403
    reply = client.post("/api/v1/scrub", headers=bearer(admin_token))
    assert reply.status_code == 202
    body = reply.get_json()
    assert body["current"]["state"] == "queued" and body["current"]["trigger"] == "request"
    again = client.post("/api/v1/scrub", headers=bearer(admin_token)).get_json()
    assert again["current"]["id"] == body["current"]["id"]  # one pass at a time


def test_the_status_counts_findings_and_lists_them(make_app):
    app = make_app()
    stored = store_one_of_each(app)
    flip_one_byte(app, "document", stored.paths["document"])
    scrub_pass(app)
    client, headers = app.test_client(), bearer(stored.token)
    status = client.get("/api/v1/scrub", headers=headers).get_json()
    assert status["current"] is None
    last = status["last_pass"]
    assert last["state"] == "finished" and last["progress"] == 1.0
    assert (last["objects_verified"], last["ok"], last["corrupt"]) == (4, 3, 1)
    assert last["bytes_verified"] == last["bytes_planned"] > 0
    assert status["findings"]["total"] == {"ok": 3, "corrupt": 1, "missing": 0}
    assert status["findings"]["by_kind"]["document"]["corrupt"] == 1
    found = client.get("/api/v1/scrub/findings", headers=headers).get_json()
    assert found["total"] == 1
    [item] = found["findings"]
    assert item["kind"] == "document" and item["object_id"] == stored.document_id
    assert item["integrity"] == "corrupt" and "MD5" in item["detail"]
    bad = client.get("/api/v1/scrub/findings?kind=nope", headers=headers)
    assert bad.status_code in (400, 422)
    page = client.get("/scrub", headers=headers)
    assert page.status_code == 200 and b"corrupt" in page.data
    documents = client.get("/documents", headers=headers)
    assert b'data-field="integrity"' in documents.data

    metrics = client.get("/metrics", headers=headers).get_data(as_text=True)
    assert 'syncapp_scrub_objects_total{integrity="corrupt"} 1.0' in metrics
    assert 'syncapp_scrub_objects_by_integrity{integrity="ok"} 3.0' in metrics
    assert "syncapp_scrub_bytes_verified_total " in metrics
    assert "syncapp_scrub_last_pass_finished_timestamp_seconds " in metrics
    assert "syncapp_scrub_pass_progress_ratio 1.0" in metrics


def test_flask_scrub_run_reads_a_pass_and_exits_1_on_findings(make_app):
    app = make_app(scrub={"max_rate": None})
    stored = store_one_of_each(app)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["scrub", "run", "--limit", "2"])
    assert result.exit_code == 0, result.output
    assert "stopped (--limit): 2 object(s)" in result.output
    result = runner.invoke(args=["scrub", "run"])
    assert result.exit_code == 0 and "finished: 2 object(s)" in result.output, result.output
    flip_one_byte(app, "cordiax", stored.paths["cordiax"])
    result = runner.invoke(args=["scrub", "run"])
    assert result.exit_code == 1 and "1 corrupt" in result.output, result.output
    with app.app_context():
        assert scrubber().current() is None
