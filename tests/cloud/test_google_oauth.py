"""Connecting Google Drive (issue 8, seed 004's /auth/google/*) against the local fake Google.

The browser's part is played by `requests`: it follows the app's redirect to the fake's
authorization endpoint, which consents at once and redirects back with a code and the state;
the callback then goes through the Flask test client, as the browser would come back.
"""

from __future__ import annotations

import hashlib
import io
import uuid
from datetime import timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest
import requests
from sqlalchemy import select, text, update

from syncapp.cloud.models import CloudCopy, GoogleAccount, OAuthState
from syncapp.cloud.replicator import replicate_due
from syncapp.cloud.targets import TargetUnavailable, open_target
from syncapp.extensions import db
from syncapp.security import decrypt_secret
from syncapp.timeutil import utcnow
from tests.conftest import bearer, make_token, make_user
from tests.peers.gdrive import google_settings
from tests.peers.process import free_port

pytestmark = pytest.mark.peer

CALLBACK = "http://localhost/auth/google/callback"  # the test client's url_for(_external=True)
DRIVE_FILE = "https://www.googleapis.com/auth/drive.file"
JSON = {"Accept": "application/json"}


@pytest.fixture
def google_app(make_app, gdrive_server):
    return make_app(google=google_settings(gdrive_server))


@pytest.fixture
def people(google_app) -> dict[str, tuple[int, str]]:
    """email -> (user id, API token) for two users."""
    found = {}
    for email in ("alice@example.com", "bob@example.com"):
        found[email] = (make_user(google_app, email), make_token(google_app, email))
    return found


@pytest.fixture
def alice(people) -> tuple[int, str]:
    return people["alice@example.com"]


@pytest.fixture
def bob(people) -> tuple[int, str]:
    return people["bob@example.com"]


def query_of(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query))


def with_params(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(query=urlencode({**query_of(url), **changes})))


def start(client, token: str, **params) -> str:
    """The authorization URL the app sends the browser to."""
    response = client.get("/auth/google/start", query_string=params, headers=bearer(token))
    assert response.status_code == 302, response.get_json()
    return response.headers["Location"]


def consent(url: str, peer) -> dict[str, str]:
    """The browser at Google's consent screen: returns what Google sends to the callback."""
    answer = requests.get(url, allow_redirects=False, verify=peer.settings["ca_certs"], timeout=10)
    assert answer.status_code == 302, answer.text
    location = answer.headers["Location"]
    assert location.startswith(CALLBACK + "?")
    return query_of(location)


def callback(client, params: dict[str, str], headers: dict[str, str] | None = None):
    return client.get("/auth/google/callback", query_string=params, headers=headers or JSON)


def status(client, user_id: int, token: str):
    return client.get(f"/auth/google/status/{user_id}", headers=bearer(token))


def account_count(app) -> int:
    with app.app_context():
        return len(db.session.scalars(select(GoogleAccount)).all())


def connected(client, user: tuple[int, str]) -> bool:
    reply = status(client, *user)
    assert reply.status_code == 200, reply.get_json()
    return reply.get_json()["connected"]


def test_full_flow_connects_and_drive_works(google_app, gdrive_server, alice, tmp_path):
    client = google_app.test_client()
    user_id, token = alice
    url = start(client, token, user_id=user_id)  # seed 004 passes its own id
    sent = query_of(url)
    assert url.startswith(google_settings(gdrive_server)["auth_uri"] + "?")
    assert sent["client_id"] == gdrive_server.settings["client_id"]
    assert sent["redirect_uri"] == CALLBACK
    assert (sent["response_type"], sent["scope"]) == ("code", DRIVE_FILE)
    assert (sent["access_type"], sent["prompt"]) == ("offline", "consent")
    assert sent["include_granted_scopes"] == "true"

    back = consent(url, gdrive_server)
    assert back["state"] == sent["state"] and back["code"]
    response = callback(client, back, headers={"Accept": "text/html"})  # the browser's way
    assert response.status_code == 302
    assert response.headers["Location"] == "/cloud?google=connected"

    reply = status(client, user_id, token)
    assert reply.status_code == 200
    body = reply.get_json()
    assert body["connected"] is True and body["user_id"] == user_id
    assert body["scopes"] == [DRIVE_FILE] and body["connected_at"].endswith("Z")

    refresh_token = gdrive_server.settings["refresh_token"]
    with google_app.app_context():
        row = db.session.execute(
            text("SELECT * FROM google_accounts WHERE user_id = :id"), {"id": user_id}
        ).one()
        assert all(refresh_token not in str(value) for value in row)
        stored = db.session.get(GoogleAccount, user_id)
        assert decrypt_secret(stored.refresh_token_encrypted) == refresh_token
        assert db.session.get(OAuthState, sent["state"]) is None  # used up

        payload = uuid.uuid4().bytes * 20_000
        path = f"oauth-{uuid.uuid4().hex[:12]}/proof.bin"
        with open_target("google", user_id) as drive:
            written = drive.write(path, io.BytesIO(payload), size=len(payload))
            with drive.open_read(path) as reader:
                echoed = hashlib.md5(reader.read()).hexdigest()
    assert written.md5 == echoed == hashlib.md5(payload).hexdigest()

    # the end of the flow: a file uploaded with sync_google lands in the connected Drive
    upload = client.post(
        "/api/v1/upload",
        headers=bearer(token),
        data={"file": (io.BytesIO(payload), "connected.bin"), "sync_google": "true"},
        content_type="multipart/form-data",
    )
    assert upload.status_code == 202, upload.get_json()
    replicate_due(google_app)
    job = client.get(f"/api/v1/status/{upload.get_json()['job_id']}", headers=bearer(token))
    assert (job.get_json()["status"], job.get_json()["progress_percentage"]) == ("completed", 100)
    with google_app.app_context():
        copy = db.session.scalar(select(CloudCopy).where(CloudCopy.target == "google"))
        with open_target("google", user_id) as drive, drive.open_read(copy.remote_path) as reader:
            assert hashlib.md5(reader.read()).hexdigest() == hashlib.md5(payload).hexdigest()

    log = (tmp_path / "syncapp.log").read_text()
    assert f"Google Drive connected for user {user_id}" in log
    for secret in (refresh_token, back["code"], gdrive_server.settings["client_secret"]):
        assert secret not in log


def test_json_start_and_callback(google_app, gdrive_server, alice):
    client = google_app.test_client()
    user_id, token = alice
    reply = client.get("/auth/google/start?format=json", headers=bearer(token))
    assert reply.status_code == 200
    url = reply.get_json()["authorization_url"]
    done = callback(client, consent(url, gdrive_server))
    assert done.status_code == 200
    assert done.get_json()["connected"] is True and done.get_json()["user_id"] == user_id


def test_wrong_state_is_refused_and_stores_nothing(google_app, gdrive_server, alice):
    client = google_app.test_client()
    back = consent(start(client, alice[1]), gdrive_server)
    browser = google_app.test_client()  # its error page leaves a session cookie: its own jar
    page = callback(browser, {**back, "state": "forged-" + back["state"]}, {"Accept": "text/html"})
    assert page.status_code == 400 and "start again" in page.get_data(as_text=True)
    assert callback(client, {**back, "state": "forged"}).get_json()["error"] == "invalid_state"
    assert callback(client, {"code": back["code"]}).get_json()["error"] == "invalid_state"
    assert account_count(google_app) == 0
    assert not connected(client, alice)


def test_state_is_used_once(google_app, gdrive_server, alice):
    client = google_app.test_client()
    back = consent(start(client, alice[1]), gdrive_server)
    assert callback(client, back).status_code == 200
    assert client.delete("/auth/google", headers=bearer(alice[1])).get_json()["connected"] is False
    replay = callback(client, back)
    assert replay.status_code == 400 and replay.get_json()["error"] == "invalid_state"
    assert not connected(client, alice)


def test_expired_state_is_refused(google_app, gdrive_server, alice):
    client = google_app.test_client()
    back = consent(start(client, alice[1]), gdrive_server)
    with google_app.app_context():
        db.session.execute(update(OAuthState).values(created_at=utcnow() - timedelta(minutes=11)))
        db.session.commit()
    refused = callback(client, back)
    assert refused.status_code == 400 and refused.get_json()["error"] == "invalid_state"
    assert account_count(google_app) == 0


def test_state_binds_the_user_who_started(google_app, gdrive_server, alice, bob):
    client = google_app.test_client()
    alices = consent(start(client, alice[1]), gdrive_server)
    bobs = consent(start(client, bob[1]), gdrive_server)
    assert callback(client, alices).get_json()["user_id"] == alice[0]
    assert connected(client, alice) and not connected(client, bob)
    # Alice, signed in, cannot land Bob's authorisation on anybody's account.
    stolen = callback(client, bobs, {**JSON, **bearer(alice[1])})
    assert stolen.status_code == 400 and stolen.get_json()["error"] == "invalid_state"
    assert not connected(client, bob) and account_count(google_app) == 1


def test_start_for_another_user_is_forbidden(google_app, alice, bob):
    client = google_app.test_client()
    refused = client.get(f"/auth/google/start?user_id={bob[0]}", headers=bearer(alice[1]))
    assert refused.status_code == 403
    assert client.get("/auth/google/start").status_code == 401
    with google_app.app_context():
        assert db.session.scalars(select(OAuthState)).all() == []


def test_status_is_private(google_app, alice, bob):
    client = google_app.test_client()
    assert status(client, bob[0], alice[1]).status_code == 403
    assert client.get(f"/auth/google/status/{alice[0]}").status_code == 401
    make_user(google_app, "root@example.com", role="admin")
    admin = make_token(google_app, "root@example.com")
    seen = status(client, alice[0], admin)
    assert seen.status_code == 200 and seen.get_json()["connected"] is False
    assert status(client, 999_999, admin).status_code == 404


def test_access_denied_on_the_consent_screen(google_app, gdrive_server, alice):
    client = google_app.test_client()
    back = consent(with_params(start(client, alice[1]), login_hint="deny"), gdrive_server)
    assert back["error"] == "access_denied" and "code" not in back
    refused = callback(client, back)
    assert refused.status_code == 400 and refused.get_json()["error"] == "access_denied"
    assert not connected(client, alice)


def test_no_refresh_token_is_a_clear_error(google_app, gdrive_server, alice):
    client = google_app.test_client()
    # Google gives no refresh token without offline access (or on a silent re-consent).
    back = consent(with_params(start(client, alice[1]), access_type="online"), gdrive_server)
    refused = callback(client, back)
    assert refused.status_code == 400
    assert refused.get_json()["error"] == "no_refresh_token"
    assert "did not return a refresh token" in refused.get_json()["message"]
    assert not connected(client, alice)


def test_refused_code_stores_nothing_and_logs_no_secret(google_app, gdrive_server, alice, tmp_path):
    client = google_app.test_client()
    back = consent(start(client, alice[1]), gdrive_server)
    forged = "4/0" + uuid.uuid4().hex
    refused = callback(client, {**back, "code": forged})
    assert refused.status_code == 400 and refused.get_json()["error"] == "token_exchange_failed"
    assert "invalid_grant" in refused.get_json()["message"]
    assert not connected(client, alice)
    log = (tmp_path / "syncapp.log").read_text()
    assert "Google refused an authorisation code: invalid_grant" in log
    assert forged not in log and gdrive_server.settings["client_secret"] not in log


def test_unreachable_token_endpoint(make_app, gdrive_server, tmp_path):
    settings = google_settings(gdrive_server)
    app = make_app(google={**settings, "token_uri": f"https://127.0.0.1:{free_port()}/token"})
    user = (make_user(app, "carol@example.com"), make_token(app, "carol@example.com"))
    client = app.test_client()
    refused = callback(client, consent(start(client, user[1]), gdrive_server))
    assert refused.status_code == 502 and refused.get_json()["error"] == "google_unreachable"
    assert not connected(client, user)


def test_not_configured_is_a_clear_error(make_app):
    app = make_app()
    token = (make_user(app, "dave@example.com"), make_token(app, "dave@example.com"))[1]
    refused = app.test_client().get("/auth/google/start", headers=bearer(token))
    assert refused.status_code == 503
    assert refused.get_json()["error"] == "google_not_configured"
    assert "google.client_id" in refused.get_json()["message"]


def test_disconnect(google_app, gdrive_server, alice):
    client = google_app.test_client()
    assert callback(client, consent(start(client, alice[1]), gdrive_server)).status_code == 200
    gone = client.delete("/auth/google", headers=bearer(alice[1]))
    assert gone.status_code == 200 and gone.get_json()["connected"] is False
    assert not connected(client, alice)
    with google_app.app_context(), pytest.raises(TargetUnavailable):
        open_target("google", alice[0])


def test_routes_are_in_the_openapi_document(google_app, alice):
    spec = google_app.test_client().get("/api/v1/openapi.json", headers=bearer(alice[1]))
    paths = set(spec.get_json()["paths"])
    expected = {"/auth/google/start", "/auth/google/callback", "/auth/google/status/{user_id}"}
    assert expected | {"/auth/google"} <= paths


# --- the fake authorisation server itself: it must refuse what Google refuses ---------------


def test_fake_google_refuses_a_bad_client_or_redirect_uri(google_app, gdrive_server, alice):
    url = start(google_app.test_client(), alice[1])
    cert = gdrive_server.settings["ca_certs"]
    for changes, status_code, error in [
        ({"client_id": "someone-else"}, 401, "invalid_client"),
        ({"redirect_uri": "https://evil.example/cb"}, 400, "redirect_uri_mismatch"),
    ]:
        answer = requests.get(
            with_params(url, **changes), allow_redirects=False, verify=cert, timeout=10
        )
        assert answer.status_code == status_code and answer.json()["error"] == error
    for changes, error in [
        ({"scope": "not-a-scope"}, "invalid_scope"),
        ({"response_type": "token"}, "unsupported_response_type"),
    ]:
        assert consent(with_params(url, **changes), gdrive_server)["error"] == error


def test_fake_google_codes_work_once_for_the_same_redirect_uri(google_app, gdrive_server, alice):
    settings = gdrive_server.settings
    client = google_app.test_client()

    def redeem(code: str, redirect_uri: str = CALLBACK) -> requests.Response:
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "client_id": settings["client_id"],
            "client_secret": settings["client_secret"],
        }
        return requests.post(
            settings["token_uri"], data=form, verify=settings["ca_certs"], timeout=10
        )

    code = consent(start(client, alice[1]), gdrive_server)["code"]
    answer = redeem(code)
    assert answer.status_code == 200
    assert answer.json()["refresh_token"] == settings["refresh_token"]
    assert answer.json()["token_type"] == "Bearer" and answer.json()["scope"] == DRIVE_FILE
    assert redeem(code).json()["error"] == "invalid_grant"
    other = consent(start(client, alice[1]), gdrive_server)["code"]
    assert redeem(other, "http://localhost/elsewhere").json()["error"] == "redirect_uri_mismatch"
