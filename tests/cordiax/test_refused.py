"""Refused Cordiax clients are visible to the administrator (issue 17, item 4): the desktop
client ignores `sync_error`, so a wrong token must show in GET /api/v1/cordiax/refused and on
the /cordiax page."""

from __future__ import annotations

from flask_socketio import SocketIOTestClient

from syncapp.cordiax.namespace import NAMESPACE
from syncapp.extensions import socketio
from tests.conftest import bearer, make_token, make_user
from tests.cordiax.payloads import encrypted_database
from tests.web.test_pages import HTML, sign_in


def connect(app, query: str) -> SocketIOTestClient:
    return socketio.test_client(app, namespace=NAMESPACE, query_string=query)


def errors_of(client: SocketIOTestClient) -> list[dict]:
    heard = client.get_received(NAMESPACE)
    return [m["args"][0] for m in heard if m["name"] == "sync_error"]


def test_a_wrong_token_is_listed_for_admins_with_reason_address_and_count(app, client, admin):
    for _ in range(2):
        refused = connect(app, "token=not-a-token&device=front-desk")
        assert not refused.is_connected(NAMESPACE)
    connect(app, "device=no-token-pc")

    listed = client.get("/api/v1/cordiax/refused", headers=bearer(make_token(app, admin)))

    assert listed.status_code == 200
    rows = {row["device"]: row for row in listed.get_json()}
    assert set(rows) == {"front-desk", "no-token-pc"}
    assert rows["front-desk"]["reason"] == "unauthorized" and rows["front-desk"]["count"] == 2
    # the test client has no address ("unknown"); the real client's test sees 127.0.0.1
    assert rows["front-desk"]["address"] and rows["front-desk"]["last_at"].endswith("Z")
    assert "token" in rows["no-token-pc"]["message"]


def test_only_admins_read_the_refused_list(app, client, user):
    connect(app, "token=nope&device=x")
    answer = client.get("/api/v1/cordiax/refused", headers=bearer(make_token(app, user)))
    assert answer.status_code == 403 and answer.get_json()["error"]


def test_the_cordiax_page_shows_refusals_to_admins_only(app, client, admin, user):
    connect(app, "token=wrong-one&device=reception")
    sign_in(client, admin)
    page = client.get("/cordiax", headers=HTML).get_data(as_text=True)
    assert (
        "Refused clients" in page and "reception" in page and 'data-reason="unauthorized"' in page
    )
    other = app.test_client()
    sign_in(other, user)
    page = other.get("/cordiax", headers=HTML).get_data(as_text=True)
    assert "reception" not in page


def test_a_push_over_the_limit_says_the_limit_and_is_listed(make_app):
    app = make_app(cordiax={"max_snapshot_size": 4096})
    make_user(app, "pc@example.com")
    admin = make_user(app, "root@example.com", role="admin")
    assert admin
    pc = connect(app, f"token={make_token(app, 'pc@example.com')}&device=big-pc")
    pc.get_received(NAMESPACE)

    answer = pc.emit(
        "sync_data", {"data": encrypted_database(6000).hex()}, namespace=NAMESPACE, callback=True
    )

    assert answer["status"] == "error" and answer["error"] == "too_large"
    assert "6000 bytes" in answer["message"] and "4096" in answer["message"]
    assert "reconnect" in answer["message"]  # the retry hint
    assert [e["error"] for e in errors_of(pc)] == ["too_large"]
    listed = app.test_client().get(
        "/api/v1/cordiax/refused", headers=bearer(make_token(app, "root@example.com"))
    )
    assert [(r["device"], r["reason"]) for r in listed.get_json()] == [("big-pc", "too_large")]
