"""/api/v1/notifications: validation, secrets encrypted at rest and masked, tenancy, "send a
test" against real receivers (tests/peers/notify.py), the caller's deliveries."""

from __future__ import annotations

import json
import uuid

from sqlalchemy import text

from syncapp.extensions import db
from syncapp.notifications import wiring
from syncapp.notifications.deliveries import NOT_DELIVERED
from syncapp.timeutil import utcnow
from tests.conftest import bearer, make_token, make_user
from tests.notifications.helpers import (
    MAIL_PASSWORD,
    WEBHOOK_SECRET,
    add_target,
    target_id,
    transition,
)

TARGETS = "/api/v1/notifications/targets"


def test_a_bad_apprise_url_is_a_400_naming_the_field(client, token):
    for url in ("not a url", "nosuchservice://host/x", "json://"):
        response = add_target(client, token, name="x", kind="apprise", url=url)
        assert response.status_code == 400, (url, response.get_json())
        body = response.get_json()
        assert body["error"] == "invalid_target"
        assert "url" in body["errors"]
        assert url not in body["message"] or url == "json://"


def test_other_bad_input_gets_clear_json_errors(client, token):
    hook = "https://h.example/x"
    cases = [
        ({"name": "x", "kind": "sms", "url": "json://h/"}, "kind"),
        ({"name": "x", "kind": "webhook", "url": "ftp://h/x", "secret": WEBHOOK_SECRET}, "url"),
        ({"name": "x", "kind": "webhook", "url": hook}, "secret"),
        ({"name": "x", "kind": "webhook", "url": hook, "secret": "short"}, "secret"),
        ({"name": "x", "kind": "apprise", "url": "json://h/", "secret": WEBHOOK_SECRET}, "secret"),
        ({"kind": "apprise", "url": "json://h/"}, "name"),
        ({"name": "x", "kind": "apprise", "url": "json://h/", "enabled": "yes"}, "enabled"),
    ]  # fmt: skip
    for body, field in cases:
        response = add_target(client, token, **body)
        assert response.status_code in (400, 422), (body, response.get_json())
        answer = response.get_json()
        assert answer["status"] == "error"
        assert field in json.dumps(answer.get("errors", {})), (body, answer)
    assert target_id(client, token, name="dup", kind="apprise", url="json://h.example/")
    duplicate = add_target(client, token, name="dup", kind="apprise", url="json://h.example/")
    assert duplicate.status_code == 409


def test_allowed_schemes_restrict_apprise_urls(make_app):
    app = make_app(notifications={"allowed_schemes": ["mailtos", "ntfys"]})
    make_user(app, "alice@example.com")
    token = make_token(app, "alice@example.com")
    client = app.test_client()
    refused = add_target(client, token, name="x", kind="apprise", url="json://h.example/")
    assert refused.status_code == 400
    assert "mailtos, ntfys" in refused.get_json()["message"]
    assert (
        add_target(client, token, name="y", kind="apprise", url="ntfys://topic").status_code == 201
    )


def test_secrets_are_encrypted_at_rest_and_masked_in_every_answer(client, app, token):
    apprise_url = f"mailtos://bob:{MAIL_PASSWORD}@smtp.example.com?to=ops@example.com"
    hook_url = "https://hooks.example.com/T0KEN-abcdefghijklmnopqrst/x?token=qwertyuiop"
    mail = target_id(client, token, name="mail", kind="apprise", url=apprise_url)
    hook = target_id(client, token, name="hook", kind="webhook", url=hook_url,
                     secret=WEBHOOK_SECRET)  # fmt: skip
    listed = client.get(TARGETS, headers=bearer(token))
    assert listed.status_code == 200
    shown = json.dumps(listed.get_json())
    for secret in (MAIL_PASSWORD, WEBHOOK_SECRET, "qwertyuiop", "T0KEN-abcdefghijklmnopqrst"):
        assert secret not in shown
    by_name = {t["name"]: t for t in listed.get_json()}
    assert by_name["mail"]["url_masked"].startswith("mailtos://bob:****@smtp.example.com")
    assert by_name["hook"]["url_masked"] == "https://hooks.example.com/T0KE****/x?token=****"
    assert by_name["hook"]["secret_set"] is True and by_name["mail"]["secret_set"] is False
    assert "url" not in by_name["mail"] and "secret" not in by_name["hook"]
    with app.app_context():
        rows = db.session.execute(
            text("SELECT * FROM notification_targets WHERE id IN (:a, :b)"), {"a": mail, "b": hook}
        ).all()
        raw = json.dumps([[str(value) for value in row] for row in rows])
        for secret in (MAIL_PASSWORD, WEBHOOK_SECRET, "qwertyuiop", "T0KEN-abcdefghijklmnopqrst"):
            assert secret not in raw
        from syncapp.notifications.models import NotificationTarget
        from syncapp.notifications.targets import secrets_of

        stored = secrets_of(db.session.get(NotificationTarget, hook))
        assert (stored.url, stored.secret) == (hook_url, WEBHOOK_SECRET)
    # the settings page shows the masked form only
    page = client.get("/settings/notifications", headers=bearer(token))
    assert page.status_code == 200
    for secret in (MAIL_PASSWORD, WEBHOOK_SECRET, "qwertyuiop"):
        assert secret.encode() not in page.data
    assert b"Send a test" in page.data


def test_update_keeps_what_is_left_out_and_checks_what_changes(client, app, token):
    hook = target_id(client, token, name="hook", kind="webhook",
                     url="https://a.example/hook", secret=WEBHOOK_SECRET)  # fmt: skip
    path = f"{TARGETS}/{hook}"
    renamed = client.patch(path, headers=bearer(token), json={"name": "renamed", "enabled": False})
    assert renamed.status_code == 200
    assert (renamed.get_json()["name"], renamed.get_json()["enabled"]) == ("renamed", False)
    moved = client.patch(path, headers=bearer(token), json={"url": "https://b.example/hook"})
    assert moved.get_json()["url_masked"] == "https://b.example/hook"
    assert client.patch(path, headers=bearer(token), json={"secret": "short"}).status_code == 400
    assert client.patch(path, headers=bearer(token), json={"url": "gopher://x"}).status_code == 400
    with app.app_context():
        from syncapp.notifications.models import NotificationTarget
        from syncapp.notifications.targets import secrets_of

        stored = secrets_of(db.session.get(NotificationTarget, hook))
        assert (stored.url, stored.secret) == ("https://b.example/hook", WEBHOOK_SECRET)
    assert client.delete(path, headers=bearer(token)).status_code == 204
    assert client.delete(path, headers=bearer(token)).status_code == 404


def test_another_users_targets_are_404_and_unchanged(app, client, token, webhook_receiver):
    path = webhook_receiver.path()
    mine = target_id(client, token, name="alicemark", kind="webhook",
                     url=webhook_receiver.url(path), secret=WEBHOOK_SECRET)  # fmt: skip
    make_user(app, "bob@example.com")
    bob = make_token(app, "bob@example.com")
    assert client.get(TARGETS, headers=bearer(bob)).get_json() == []
    for method, suffix, body in (("PATCH", "", {"name": "taken"}), ("DELETE", "", None),
                                 ("POST", "/test", None)):  # fmt: skip
        theirs = client.open(f"{TARGETS}/{mine}{suffix}", method=method, headers=bearer(bob),
                             json=body)  # fmt: skip
        missing = client.open(f"{TARGETS}/999999{suffix}", method=method, headers=bearer(bob),
                              json=body)  # fmt: skip
        assert theirs.status_code == missing.status_code == 404
        said = theirs.get_json()["message"].replace(str(mine), "N")
        assert said == missing.get_json()["message"].replace("999999", "N")
    other = client.get(f"{TARGETS}?owner=alice@example.com", headers=bearer(bob))
    assert other.status_code == 404
    assert webhook_receiver.requests(path) == []  # B's "test" sent nothing
    [still] = client.get(TARGETS, headers=bearer(token)).get_json()
    assert still["name"] == "alicemark"


def test_an_administrator_sees_a_users_targets_with_owner(client, token, admin_token):
    target_id(client, token, name="phone", kind="apprise", url="ntfys://topic")
    made = client.post(
        f"{TARGETS}?owner=alice@example.com",
        headers=bearer(admin_token),
        json={"name": "pager", "kind": "apprise", "url": "ntfys://pager"},
    )
    assert made.status_code == 201
    assert [t["name"] for t in client.get(TARGETS, headers=bearer(token)).get_json()] == [
        "pager",
        "phone",
    ]
    refused = client.post(
        f"{TARGETS}?owner=root@example.com",
        headers=bearer(token),
        json={"name": "x", "kind": "apprise", "url": "ntfys://x"},
    )
    assert refused.status_code == 404
    assert client.get(TARGETS, headers=bearer(admin_token)).get_json() == []
    theirs = client.get(f"{TARGETS}?owner=alice@example.com", headers=bearer(admin_token))
    assert [t["name"] for t in theirs.get_json()] == ["pager", "phone"]


def test_send_a_test_reaches_the_target_or_says_why_not(
    client, token, admin_token, smtp_server, webhook_receiver
):
    to = f"test-{uuid.uuid4().hex[:8]}@example.com"
    mail = target_id(client, token, name="mail", kind="apprise", url=smtp_server.url(to))
    sent = client.post(f"{TARGETS}/{mail}/test", headers=bearer(token))
    assert sent.status_code == 200
    assert sent.get_json()["success"] is True, sent.get_json()
    [message] = smtp_server.messages_to(to)
    assert "Test notification" in message["Subject"]

    path = webhook_receiver.path()
    hook = target_id(client, token, name="hook", kind="webhook", url=webhook_receiver.url(path),
                     secret=WEBHOOK_SECRET, enabled=False)  # fmt: skip
    answer = client.post(f"{TARGETS}/{hook}/test", headers=bearer(token)).get_json()
    assert answer["success"] is True
    [received] = webhook_receiver.requests(path)
    assert json.loads(received.body)["event"] == "test"

    # nothing listens on port 9 (discard): the failure is reported, not raised; its reason
    # (which port answered how) only to an administrator (SSRF, docs/security.md)
    for kind, url in (("webhook", "http://127.0.0.1:9/hook"), ("apprise", "json://127.0.0.1:9/x")):
        extra = {"secret": WEBHOOK_SECRET} if kind == "webhook" else {}
        down = target_id(client, token, name=f"down-{kind}", kind=kind, url=url, **extra)
        failed = client.post(f"{TARGETS}/{down}/test", headers=bearer(token))
        assert failed.status_code == 200
        assert failed.get_json() == {"success": False, "message": NOT_DELIVERED}
        seen = client.post(f"{TARGETS}/{down}/test", headers=bearer(admin_token)).get_json()
        assert seen["success"] is False
        assert "127.0.0.1" in seen["message"] and seen["message"].strip()
    webhook_receiver.respond(path, 500, 500)
    refused = client.post(f"{TARGETS}/{hook}/test", headers=bearer(token)).get_json()
    assert refused == {"success": False, "message": NOT_DELIVERED}
    seen = client.post(f"{TARGETS}/{hook}/test", headers=bearer(admin_token)).get_json()
    assert seen["success"] is False and seen["message"].endswith("answered HTTP 500.")


def test_deliveries_lists_the_callers_own(app, client, user, token, webhook_receiver):
    path = webhook_receiver.path()
    target_id(client, token, name="hook", kind="webhook", url=webhook_receiver.url(path),
              secret=WEBHOOK_SECRET)  # fmt: skip
    with app.app_context():
        from syncapp.auth.accounts import find_user

        alice = find_user(user).id
    transition(app, alice, title="Sync job nightly failed 3 times in a row")
    with app.app_context():
        wiring.deliver_due(utcnow())
    mine = client.get("/api/v1/notifications/deliveries", headers=bearer(token))
    assert mine.status_code == 200
    [delivery] = mine.get_json()
    assert delivery["status"] == "delivered" and delivery["attempts"] == 1
    assert delivery["target_name"] == "hook" and delivery["state"] == "firing"
    assert delivery["title"] == "Sync job nightly failed 3 times in a row"
    make_user(app, "bob@example.com")
    bob = make_token(app, "bob@example.com")
    assert client.get("/api/v1/notifications/deliveries", headers=bearer(bob)).get_json() == []
    failed = client.get("/api/v1/notifications/deliveries?status=failed", headers=bearer(token))
    assert failed.get_json() == []
    assert client.get(
        "/api/v1/notifications/deliveries?status=x", headers=bearer(token)
    ).status_code in (400, 422)
