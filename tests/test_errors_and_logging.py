"""The error envelope, rollback on 500, structured logs with request ids, no secrets in logs."""

from __future__ import annotations

import json

from syncapp.auth.models import User
from syncapp.extensions import db
from syncapp.logs import redact
from tests.conftest import bearer


def test_an_unexpected_error_is_a_json_500_and_rolls_back(make_app):
    app = make_app()

    @app.route("/api/v1/explode")
    def explode():
        user = User(email="half@example.com", password_hash="x")
        db.session.add(user)
        db.session.flush()
        raise RuntimeError("boom")

    from tests.conftest import make_token, make_user

    make_user(app, "alice@example.com")
    raw = make_token(app, "alice@example.com")
    response = app.test_client().get("/api/v1/explode", headers=bearer(raw))
    assert response.status_code == 500
    assert response.get_json() == {
        "status": "error",
        "error": "internal_error",
        "message": "An internal error occurred; it has been logged.",
        "detail": "An internal error occurred; it has been logged.",  # seed 004's field
    }
    with app.app_context():
        assert db.session.query(User).filter_by(email="half@example.com").count() == 0


def test_log_lines_are_json_with_the_request_id(app, client, tmp_path, token):
    response = client.get(
        "/api/v1/nothing-here", headers={**bearer(token), "X-Request-ID": "abc-123"}
    )
    assert response.headers["X-Request-ID"] == "abc-123"
    app.logger.info("checking %s", "structure")
    lines = [json.loads(line) for line in (tmp_path / "syncapp.log").read_text().splitlines()]
    assert any(line["message"] == "checking structure" for line in lines)
    assert all({"time", "level", "logger", "message", "request_id"} <= set(line) for line in lines)


def test_a_request_id_is_made_up_when_missing_or_unsafe(client):
    response = client.get("/api/v1/health", headers={"X-Request-ID": "bad id; with spaces"})
    assert response.headers["X-Request-ID"] != "bad id; with spaces"
    assert len(response.headers["X-Request-ID"]) == 16


def test_secrets_are_masked_in_log_lines(app, tmp_path, token):
    app.logger.warning("client sent %s and password=hunter2 via http://u:pw@host/", token)
    text = (tmp_path / "syncapp.log").read_text()
    assert token not in text
    assert "hunter2" not in text and ":pw@" not in text


def test_redact_keeps_ordinary_text():
    assert (
        redact("uploaded FULL/full_2025.tar.gz (12 MB)") == "uploaded FULL/full_2025.tar.gz (12 MB)"
    )
