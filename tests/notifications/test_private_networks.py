"""Server-side request forgery through notification targets (netguard.py, docs/security.md):
by default a user who is not an administrator may target public addresses only, refused when
the target is saved and again on every connection a send makes; administrators may target any
host; the "send a test" is rate-limited and tells a user only that it could not deliver."""

from __future__ import annotations

import json
import socket
import uuid

import pytest

from syncapp.auth.accounts import find_user
from syncapp.extensions import db
from syncapp.notifications import netguard, targets
from syncapp.notifications.deliveries import NOT_DELIVERED
from syncapp.notifications.models import NotificationDelivery
from syncapp.notifications.outbox import PRIVATE_REFUSED
from syncapp.notifications.wiring import deliver_due
from tests.conftest import bearer, make_token, make_user
from tests.notifications.helpers import WEBHOOK_SECRET, add_target, target_id, transition

TARGETS = "/api/v1/notifications/targets"


@pytest.fixture
def app(make_app):
    return make_app(notifications={"allow_private_networks": False})


@pytest.fixture
def tokens(app) -> tuple[str, str]:
    """(a user's token, an administrator's)."""
    make_user(app, "alice@example.com")
    make_user(app, "root@example.com", role="admin")
    return make_token(app, "alice@example.com"), make_token(app, "root@example.com")


PRIVATE_URLS = [
    ("webhook", "http://127.0.0.1:8080/hook"),
    ("webhook", "http://localhost/hook"),
    ("webhook", "http://10.1.2.3/hook"),
    ("webhook", "http://169.254.169.254/latest/meta-data/"),
    ("webhook", "http://[::1]:8080/hook"),
    ("webhook", "http://[::ffff:127.0.0.1]/hook"),
    ("webhook", "http://0.0.0.0:6379/"),
    ("apprise", "json://192.168.1.10:5432/x"),
    ("apprise", "ntfy://172.16.0.5/topic"),
    ("apprise", "mailto://user:pw@example.com?smtp=127.0.0.1&to=a@example.com"),
]


@pytest.mark.parametrize(("kind", "url"), PRIVATE_URLS)
def test_a_users_target_at_a_private_address_is_a_400(app, tokens, kind, url):
    client = app.test_client()
    user_token, _ = tokens
    extra = {"secret": WEBHOOK_SECRET} if kind == "webhook" else {}
    response = add_target(client, user_token, name="lan", kind=kind, url=url, **extra)
    assert response.status_code == 400, response.get_json()
    body = response.get_json()
    assert body["error"] == "private_address" and "url" in body["errors"]
    assert url not in json.dumps(body)
    # a public one is fine (nothing is sent when saving)
    fine = add_target(client, user_token, name="pub", kind=kind,
                      url="https://93.184.215.14/hook" if kind == "webhook" else "json://93.184.215.14/x",
                      **extra)  # fmt: skip
    assert fine.status_code == 201, fine.get_json()
    # nor can the URL be changed to a private one afterwards
    changed = client.patch(
        f"{TARGETS}/{fine.get_json()['id']}", headers=bearer(user_token), json={"url": url}
    )
    assert changed.status_code == 400 and changed.get_json()["error"] == "private_address"


def test_an_administrators_target_may_reach_the_lan(app, tokens, webhook_receiver):
    client = app.test_client()
    _, admin_token = tokens
    path = webhook_receiver.path()
    hook = target_id(client, admin_token, name="lan", kind="webhook",
                     url=webhook_receiver.url(path), secret=WEBHOOK_SECRET)  # fmt: skip
    sent = client.post(f"{TARGETS}/{hook}/test", headers=bearer(admin_token)).get_json()
    assert sent["success"] is True, sent
    assert len(webhook_receiver.requests(path)) == 1
    # but not for a user, through ?owner=: the rule is the target owner's
    refused = client.post(
        f"{TARGETS}?owner=alice@example.com",
        headers=bearer(admin_token),
        json={"name": "lan", "kind": "apprise", "url": "json://127.0.0.1:9/x"},
    )
    assert refused.status_code == 400 and refused.get_json()["error"] == "private_address"


def _saved_anyway(app, url: str, kind: str = "apprise") -> int:
    """A user's target whose host was public when saved (a DNS name that later answers a
    private address: rebinding), or saved while the setting was on."""
    with app.app_context():
        owner = find_user("alice@example.com").id
        extra = {"secret": WEBHOOK_SECRET} if kind == "webhook" else {}
        return targets.create_target(db.session, owner, name=uuid.uuid4().hex[:8], kind=kind,
                                     url=url, public_only=False, **extra).id  # fmt: skip


def test_a_users_private_target_is_refused_when_sending(app, tokens, webhook_receiver):
    client = app.test_client()
    user_token, admin_token = tokens
    path = webhook_receiver.path()
    # localhost: a name, resolved at the connection (not an address literal in the URL)
    url = webhook_receiver.url(path).replace("127.0.0.1", "localhost")
    apprise_hook = _saved_anyway(app, url.replace("http://", "json://"))
    signed_hook = _saved_anyway(app, url, kind="webhook")
    for hook in (apprise_hook, signed_hook):
        said = client.post(f"{TARGETS}/{hook}/test", headers=bearer(user_token)).get_json()
        assert said == {"success": False, "message": NOT_DELIVERED}
        seen = client.post(f"{TARGETS}/{hook}/test", headers=bearer(admin_token)).get_json()
        assert seen == {"success": False, "message": PRIVATE_REFUSED}
    assert webhook_receiver.requests(path) == []  # nothing reached the receiver

    with app.app_context():
        transition(app, find_user("alice@example.com").id)
        deliver_due()
        rows = list(db.session.scalars(db.select(NotificationDelivery)))
        assert {row.status for row in rows} == {"pending"}  # retried later, still refused
        assert {row.last_error for row in rows} == {PRIVATE_REFUSED}
    assert webhook_receiver.requests(path) == []
    listed = client.get("/api/v1/notifications/deliveries", headers=bearer(user_token))
    assert {d["last_error"] for d in listed.get_json()} == {NOT_DELIVERED}
    page = client.get(
        "/api/v1/notifications/deliveries?owner=alice@example.com", headers=bearer(admin_token)
    )
    assert {d["last_error"] for d in page.get_json()} == {PRIVATE_REFUSED}


def test_the_send_a_test_button_is_rate_limited_per_user(app, tokens):
    client = app.test_client()
    user_token, _ = tokens
    hook = _saved_anyway(app, "json://127.0.0.1:9/x")
    statuses = [
        client.post(f"{TARGETS}/{hook}/test", headers=bearer(user_token)).status_code
        for _ in range(11)
    ]
    assert statuses == [200] * 10 + [429]


def test_every_resolved_address_is_checked_and_the_checked_one_is_used():
    assert netguard.is_public("93.184.215.14") and netguard.is_public("2606:4700::1111")
    for address in ("127.0.0.1", "10.0.0.1", "100.64.0.1", "169.254.169.254", "224.0.0.1",
                    "0.0.0.0", "::1", "::", "fe80::1", "fd00::1", "ff02::1",
                    "::ffff:10.0.0.1", "64:ff9b::7f00:1", "2002:a00:1::1"):  # fmt: skip
        assert not netguard.is_public(address), address
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    try:
        with netguard.public_only(), pytest.raises(netguard.PrivateAddress):
            socket.create_connection(("localhost", port), timeout=5)  # resolved, then connect
        assert netguard.refusals() == ["127.0.0.1"]
        # a name handed to connect itself
        with netguard.public_only(), socket.socket() as raw, pytest.raises(netguard.PrivateAddress):
            raw.connect(("localhost", port))
        assert netguard.refusals() == ["localhost"]
        with netguard.public_only(False):  # an administrator's send: not checked
            socket.create_connection(("127.0.0.1", port), timeout=5).close()
        socket.create_connection(("127.0.0.1", port), timeout=5).close()  # other threads' work
    finally:
        server.close()
