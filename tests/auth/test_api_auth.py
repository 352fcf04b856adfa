"""API authentication: tokens in three forms, 401 by default, 403 for admin-only routes."""

from __future__ import annotations

import base64
import re

import pytest

from tests.conftest import PASSWORD, bearer, make_token, make_user

PUBLIC_ENDPOINTS = {
    "monitoring.health",
    "seed_paths.liveness",  # seed 004's /health: liveness only, no checks
    "auth_api.login",
    "auth_api.register",
    "web.index",
    "web.login_page",
    "web.logout",
    "google_oauth.callback",  # the browser comes back from Google; the state names the user
    "cloud.download_link",  # the signed, expiring token in the URL is the credential
    "static",
}


def api_rules(app):
    for rule in app.url_map.iter_rules():
        if rule.endpoint in PUBLIC_ENDPOINTS:
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield method, re.sub(r"<[^>]+>", "1", rule.rule)


def test_every_non_public_route_answers_401_json_without_credentials(app, client):
    checked = 0
    for method, path in api_rules(app):
        response = client.open(path, method=method, headers={"Accept": "*/*"})
        assert response.status_code == 401, (method, path, response.status_code)
        body = response.get_json()
        # seed 003's backup routes carry the code in `code` and the sentence in `error`
        code = body["code"] if "code" in body else body["error"]
        assert body["status"] == "error" and code == "unauthorized", (method, path)
        checked += 1
    assert checked >= 6


def test_pages_redirect_browsers_to_the_login_page(client):
    response = client.get("/dashboard", headers={"Accept": "text/html"})
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


@pytest.mark.parametrize("scheme", ["bearer", "x-api-key", "basic"])
def test_a_token_is_accepted_in_each_form(client, token, scheme):
    headers = {
        "bearer": bearer(token),
        "x-api-key": {"X-API-Key": token},
        "basic": {
            "Authorization": "Basic " + base64.b64encode(f"backup:{token}".encode()).decode()
        },
    }[scheme]
    response = client.get("/api/v1/tokens", headers=headers)
    assert response.status_code == 200
    assert [t["name"] for t in response.get_json()] == ["test"]


def test_a_wrong_token_gets_401(client, token):
    response = client.get("/api/v1/tokens", headers=bearer(token + "x"))
    assert response.status_code == 401
    assert "invalid" in response.get_json()["message"]


def test_a_revoked_token_gets_401(client, token):
    token_id = client.get("/api/v1/tokens", headers=bearer(token)).get_json()[0]["id"]
    assert client.delete(f"/api/v1/tokens/{token_id}", headers=bearer(token)).status_code == 204
    assert client.get("/api/v1/tokens", headers=bearer(token)).status_code == 401


def test_a_token_records_when_it_was_last_used(client, token):
    listed = client.get("/api/v1/tokens", headers=bearer(token)).get_json()
    assert listed[0]["last_used_at"] is not None  # written by the call that listed it


def test_changes_made_outside_the_process_count_at_the_next_request(app, client, token):
    """The token and its user are read from the database on every request: what another
    process commits (`flask tokens revoke`, a second server process, an administrator's edit
    there) counts at once, with no message between the processes. A cache of token lookups
    would fail this (bench/api_rate.py measured the read at about 0.05 ms)."""
    from sqlalchemy import update

    from syncapp.auth.models import ApiToken, User
    from syncapp.extensions import db
    from syncapp.timeutil import utcnow

    def elsewhere(statement) -> None:
        with app.app_context(), db.engine.begin() as connection:  # not the app's session
            connection.execute(statement)

    alice = User.email == "alice@example.com"
    assert client.get("/api/v1/syncs", headers=bearer(token)).status_code == 200
    assert client.get("/api/v1/users", headers=bearer(token)).status_code == 403
    elsewhere(update(User).where(alice).values(role="admin"))
    assert client.get("/api/v1/users", headers=bearer(token)).status_code == 200
    elsewhere(update(User).where(alice).values(role="user"))
    assert client.get("/api/v1/users", headers=bearer(token)).status_code == 403
    elsewhere(update(User).where(alice).values(active=False))
    assert client.get("/api/v1/syncs", headers=bearer(token)).status_code == 401
    elsewhere(update(User).where(alice).values(active=True))
    assert client.get("/api/v1/syncs", headers=bearer(token)).status_code == 200
    elsewhere(update(ApiToken).values(revoked_at=utcnow()))
    assert client.get("/api/v1/syncs", headers=bearer(token)).status_code == 401


def test_a_user_token_cannot_reach_admin_routes(client, token):
    response = client.get("/api/v1/users", headers=bearer(token))
    assert response.status_code == 403
    assert response.get_json()["error"] == "forbidden"
    response = client.post(
        "/api/v1/users",
        headers=bearer(token),
        json={"email": "x@example.com", "password": "longenough1"},
    )
    assert response.status_code == 403


def test_an_admin_token_reaches_admin_routes(client, admin_token):
    response = client.post(
        "/api/v1/users",
        headers=bearer(admin_token),
        json={"email": "new@example.com", "password": "longenough1"},
    )
    assert response.status_code == 201
    emails = [
        u["email"] for u in client.get("/api/v1/users", headers=bearer(admin_token)).get_json()
    ]
    assert emails == ["root@example.com", "new@example.com"]


def test_login_returns_a_usable_access_token(client, user):
    response = client.post("/auth/login", json={"email": user, "password": PASSWORD})
    assert response.status_code == 200
    body = response.get_json()
    assert body["token_type"] == "bearer"
    assert isinstance(body["user_id"], int)
    assert body["expires_at"].endswith("Z")
    assert client.get("/api/v1/tokens", headers=bearer(body["access_token"])).status_code == 200


def test_login_with_a_wrong_password_is_refused(client, user):
    response = client.post("/auth/login", json={"email": user, "password": "nope"})
    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_credentials"


def test_login_with_malformed_json_is_a_400_naming_the_field(client):
    response = client.post("/auth/login", json={"email": "not-an-email"})
    assert response.status_code == 400
    body = response.get_json()
    assert body["error"] == "validation_error"
    assert set(body["errors"]) == {"email", "password"}


def test_login_is_rate_limited(client, user):
    statuses = [
        client.post("/auth/login", json={"email": user, "password": "bad"}).status_code
        for _ in range(11)
    ]
    assert statuses[:10] == [401] * 10
    assert statuses[10] == 429


def test_registration_is_off_by_default(client):
    response = client.post(
        "/auth/register", json={"email": "n@example.com", "password": "longenough1"}
    )
    assert response.status_code == 403
    assert response.get_json()["error"] == "registration_disabled"


def test_registration_when_enabled_returns_a_token(make_app):
    client = make_app(security={"registration_enabled": True}).test_client()
    response = client.post(
        "/auth/register",
        json={"email": "n@example.com", "password": "longenough1", "full_name": "N"},
    )
    assert response.status_code == 201
    body = response.get_json()
    assert client.get("/api/v1/tokens", headers=bearer(body["access_token"])).status_code == 200
    again = client.post(
        "/auth/register", json={"email": "N@example.com", "password": "longenough1"}
    )
    assert again.status_code == 409


def test_a_created_token_is_shown_once_and_stored_hashed(app, client, token):
    response = client.post("/api/v1/tokens", headers=bearer(token), json={"name": "cron"})
    assert response.status_code == 201
    raw = response.get_json()["token"]
    listed = client.get("/api/v1/tokens", headers=bearer(raw)).get_json()
    assert [t["name"] for t in listed] == ["test", "cron"]
    assert all("token" not in t for t in listed)
    from syncapp.auth.models import ApiToken
    from syncapp.extensions import db

    with app.app_context():
        stored = [row.token_hash for row in db.session.query(ApiToken)]
    assert raw not in stored and all(len(h) == 64 for h in stored)


def test_users_cannot_revoke_each_others_tokens(app, client, token):
    make_user(app, "bob@example.com")
    bob = make_token(app, "bob@example.com")
    alice_token_id = client.get("/api/v1/tokens", headers=bearer(token)).get_json()[0]["id"]
    assert client.delete(f"/api/v1/tokens/{alice_token_id}", headers=bearer(bob)).status_code == 404
    assert client.get("/api/v1/tokens", headers=bearer(token)).status_code == 200


def test_seed_000_api_key_is_accepted_when_configured(make_app):
    app = make_app(security={"api_key": "shared-seed-key"})
    make_user(app, "root@example.com", role="admin")
    client = app.test_client()
    assert client.get("/api/v1/users", headers={"X-API-Key": "shared-seed-key"}).status_code == 200
    assert client.get("/api/v1/users", headers={"X-API-Key": "other"}).status_code == 401


def test_a_token_still_works_after_an_anonymous_page_left_a_session_cookie(client, token):
    """A script keeping cookies (curl -b/-c) must not lose its token after one HTML page."""
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/syncs", headers=headers).status_code == 200
    assert client.get("/login").status_code == 200  # stores a CSRF token in the session cookie
    assert client.get("/api/v1/syncs", headers=headers).status_code == 200
