"""Seed 004's and seed 000's own clients, unchanged (issue 17 item 18): the error text in
`detail`, `/health`, CORS for a frontend on another origin, the browser's way into
/auth/google/start, and `/redoc`."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import pytest

from syncapp.config import ConfigError
from syncapp.monitoring import checks
from tests.conftest import PASSWORD, bearer, make_token, make_user
from tests.web.test_pages import csrf_from, sign_in

BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
FRONTEND = "http://localhost:3000"  # seed 004's CORS_ORIGINS example


def test_errors_carry_the_human_text_in_detail_too(client):
    # seed 004's frontend: `error.response?.data.detail`; the other seeds read `message`
    body = client.get("/api/v1/syncs", headers=bearer("sa_not-a-token")).get_json()
    assert body["error"] == "unauthorized" and body["detail"] == body["message"]
    assert "invalid" in body["detail"]
    invalid = client.post("/auth/login", json={"email": "x"}).get_json()
    assert invalid["detail"] == invalid["message"] and invalid["detail"].startswith("Invalid")


def test_health_answers_without_authentication_and_without_checks(client, monkeypatch):
    def remote_io():  # any check reaching a database or a remote would be I/O
        raise AssertionError("a liveness probe ran a check")

    monkeypatch.setitem(checks.HEALTH_CHECKS, "database", remote_io)
    response = client.get("/health")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ok" and "version" in body and "checks" not in body


def test_health_follows_monitoring_enable_health(make_app):
    client = make_app(monitoring={"enable_health": False}).test_client()
    assert client.get("/health").status_code == 404


def test_no_origin_is_allowed_by_default(client, token):
    response = client.get("/api/v1/syncs", headers={**bearer(token), "Origin": FRONTEND})
    assert response.status_code == 200
    assert "Access-Control-Allow-Origin" not in response.headers


@pytest.fixture
def cors_client(make_app, monkeypatch):
    monkeypatch.setenv("CORS_ORIGINS", f"{FRONTEND},http://127.0.0.1:3000")  # the seed's form
    return make_app().test_client()


def test_a_listed_origin_gets_its_preflight_and_reads_answers(cors_client):
    preflight = cors_client.options(
        "/api/v1/upload",
        headers={
            "Origin": FRONTEND,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
    )
    assert preflight.status_code == 204  # answered before authentication
    assert preflight.headers["Access-Control-Allow-Origin"] == FRONTEND
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
    assert "authorization" in preflight.headers["Access-Control-Allow-Headers"].lower()
    assert "Access-Control-Allow-Credentials" not in preflight.headers

    make_user(cors_client.application, "frontend@example.com")
    token = make_token(cors_client.application, "frontend@example.com")
    answer = cors_client.get("/api/v1/files", headers={**bearer(token), "Origin": FRONTEND})
    assert answer.status_code == 200
    assert answer.headers["Access-Control-Allow-Origin"] == FRONTEND
    assert "Origin" in answer.headers["Vary"]
    assert "Access-Control-Allow-Credentials" not in answer.headers  # cookies never count
    refused = cors_client.get("/api/v1/files", headers={"Origin": FRONTEND})
    assert refused.status_code == 401  # and the app may read why: error answers carry CORS too
    assert refused.headers["Access-Control-Allow-Origin"] == FRONTEND


def test_another_origin_is_refused(cors_client):
    preflight = cors_client.options(
        "/api/v1/files",
        headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "GET"},
    )
    assert preflight.status_code == 403
    assert "Access-Control-Allow-Origin" not in preflight.headers
    answer = cors_client.get("/health", headers={"Origin": "http://evil.example"})
    assert "Access-Control-Allow-Origin" not in answer.headers


@pytest.mark.parametrize("origin", ["*", "localhost:3000", "http://x.example/path", "ftp://x"])
def test_cors_origins_must_be_origins(make_app, origin):
    with pytest.raises(ConfigError, match=r"cors\.origins"):
        make_app(cors={"origins": [origin]})


def test_a_browser_without_a_session_is_sent_to_sign_in_then_back(client, user):
    # seed 004: window.location.href = `${API}/auth/google/start?user_id=${userId}`
    response = client.get("/auth/google/start?user_id=1", headers=BROWSER)
    assert response.status_code == 302
    target = urlsplit(response.headers["Location"])
    assert target.path == "/login"
    assert dict(parse_qsl(target.query))["next"] == "/auth/google/start?user_id=1"
    # signing in on that page leads back to where the browser was going
    page = client.get(response.headers["Location"], headers=BROWSER)
    form = {"email": user, "password": PASSWORD, "csrf_token": csrf_from(page.data)}
    signed_in = client.post(response.headers["Location"], headers=BROWSER, data=form)
    assert signed_in.status_code == 302
    assert signed_in.headers["Location"] == "/auth/google/start?user_id=1"
    # scripts keep their JSON 401
    anonymous = client.application.test_client()
    script = anonymous.get("/auth/google/start", headers={"Accept": "application/json"})
    assert script.status_code == 401 and script.get_json()["error"] == "unauthorized"


def test_redoc_serves_the_api_reference_from_local_files(client, user):
    sign_in(client, user)
    page = client.get("/redoc", headers=BROWSER)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "/static/vendor/redoc/redoc.standalone.js" in html and "/api/v1/openapi.json" in html
    assert "https://" not in html  # nothing from a CDN
    assert "worker-src 'self' blob:" in page.headers["Content-Security-Policy"]
    script = client.get("/static/vendor/redoc/redoc.standalone.js")
    assert script.status_code == 200 and b"Redoc" in script.data
    script.close()
