"""Delivering alert transitions to real receivers: an SMTP server (aiosmtpd) and an HTTP
receiver (tests/peers/notify.py). The clock is the test's: `deliver(app, now)`; no sleeps."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from datetime import timedelta

from sqlalchemy import select

from syncapp.extensions import db
from syncapp.notifications import wiring
from syncapp.notifications.models import NotificationDelivery
from syncapp.notifications.senders import verify_signature
from syncapp.timeutil import utcnow
from tests.conftest import make_token, make_user
from tests.notifications.helpers import WEBHOOK_SECRET, target_id, transition


def deliver(app, now=None):
    with app.app_context():
        return [(o.status, o.error) for o in wiring.deliver_due(now or utcnow())]


def deliveries(app) -> list[NotificationDelivery]:
    with app.app_context():
        rows = db.session.scalars(select(NotificationDelivery).order_by(NotificationDelivery.id))
        return list(rows)


def _mailbox() -> str:
    return f"ops-{uuid.uuid4().hex[:10]}@example.com"


def test_a_firing_alert_reaches_mailto_and_json_targets(
    app, client, user, token, smtp_server, webhook_receiver
):
    owner = make_user(app, "carol@example.com")
    carol = make_token(app, "carol@example.com")
    to = _mailbox()
    target_id(client, carol, name="mail", kind="apprise", url=smtp_server.url(to))
    path = webhook_receiver.path()
    json_url = f"json://127.0.0.1:{webhook_receiver.port}{path}"
    target_id(client, carol, name="json", kind="apprise", url=json_url)
    transition(app, owner, "firing", title="Backup profile web01: no FULL for 8 days")

    assert deliver(app) == [("delivered", None), ("delivered", None)]

    [mail] = smtp_server.messages_to(to)
    assert "FIRING" in mail["Subject"] and "web01" in mail["Subject"]
    [received] = webhook_receiver.requests(path)
    sent = json.loads(received.body)
    assert "FIRING" in sent["title"] and "no FULL for 8 days" in sent["title"]
    assert "/backups?profile=web01" in sent["message"]
    assert [d.status for d in deliveries(app)] == ["delivered", "delivered"]
    # another user's alert reaches none of carol's targets
    transition(app, make_user(app, "dave@example.com"), "firing")
    assert deliver(app) == []


def test_a_signed_webhook_verifies_with_its_secret_and_a_tampered_body_fails(
    app, client, user, token, webhook_receiver
):
    path = webhook_receiver.path()
    target_id(client, token, name="script", kind="webhook", url=webhook_receiver.url(path),
              secret=WEBHOOK_SECRET)  # fmt: skip
    owner = make_user(app, "erin@example.com")  # not alice: her alert must not go there
    transition(app, owner)
    with app.app_context():
        from syncapp.auth.accounts import find_user

        alice = find_user(user).id
    alert_id, transition_id = transition(app, alice)
    now = utcnow()
    assert deliver(app, now) == [("delivered", None)]

    [received] = webhook_receiver.requests(path)
    timestamp = received.headers["X-Syncapp-Timestamp"]
    signature = received.headers["X-Syncapp-Signature"]
    assert timestamp == str(int(now.timestamp()))
    # the receiver's side, written out: HMAC-SHA256 of "<timestamp>.<body>" with the secret
    expected = hmac.new(
        WEBHOOK_SECRET.encode(), timestamp.encode() + b"." + received.body, hashlib.sha256
    ).hexdigest()
    assert signature == f"sha256={expected}"
    assert verify_signature(WEBHOOK_SECRET, timestamp, received.body, signature, now=int(timestamp))
    tampered = received.body.replace(b"firing", b"resolved")
    assert tampered != received.body
    assert not verify_signature(WEBHOOK_SECRET, timestamp, tampered, signature, now=int(timestamp))
    assert not verify_signature("another-secret-of-length", timestamp, received.body, signature,
                                now=int(timestamp))  # fmt: skip
    # a replay: the same request 10 minutes later is refused
    assert not verify_signature(WEBHOOK_SECRET, timestamp, received.body, signature,
                                now=int(timestamp) + 600)  # fmt: skip
    body = json.loads(received.body)
    assert body["event"] == "alert.firing"
    assert body["alert"] | {"at": None} == {
        "id": alert_id,
        "transition_id": transition_id,
        "state": "firing",
        "title": "Backup profile web01: no FULL for 8 days",
        "detail": "The last FULL archive is from 8 days ago; the rhythm asks for 7.",
        "link": "/backups?profile=web01",
        "at": None,
    }
    assert received.headers["X-Syncapp-Delivery"] == str(body["delivery_id"])


def test_a_receiver_failing_then_answering_is_retried_with_backoff_and_delivered_once(
    make_app, webhook_receiver
):
    app = make_app(notifications={"retry_delay": 30, "max_retry_delay": 100})
    client = app.test_client()
    owner = make_user(app, "alice@example.com")
    token = make_token(app, "alice@example.com")
    path = webhook_receiver.path()
    webhook_receiver.respond(path, 500, 503, 200)
    target_id(client, token, name="flaky", kind="webhook", url=webhook_receiver.url(path),
              secret=WEBHOOK_SECRET)  # fmt: skip
    transition(app, owner)
    start = utcnow()

    [(status, error)] = deliver(app, start)
    assert status == "pending" and error.endswith("answered HTTP 500.")
    [row] = deliveries(app)
    assert (row.attempts, row.next_attempt_at) == (1, start + timedelta(seconds=30))
    assert deliver(app, start + timedelta(seconds=29)) == []  # not due yet
    assert deliver(app, start + timedelta(seconds=30))[0][0] == "pending"
    [row] = deliveries(app)  # doubled
    assert (row.attempts, row.next_attempt_at) == (2, start + timedelta(seconds=90))
    assert deliver(app, start + timedelta(seconds=89)) == []
    assert deliver(app, start + timedelta(seconds=90)) == [("delivered", None)]
    assert deliver(app, start + timedelta(hours=1)) == []

    assert [r.status for r in webhook_receiver.requests(path)] == [500, 503, 200]
    [row] = deliveries(app)
    assert (row.status, row.attempts, row.last_error) == ("delivered", 3, None)
    assert row.delivered_at == start + timedelta(seconds=90)
    # every attempt carried the same delivery id: the receiver can drop a repeat
    assert len({r.headers["X-Syncapp-Delivery"] for r in webhook_receiver.requests(path)}) == 1


def test_backoff_is_capped_and_a_delivery_gives_up_after_max_attempts(make_app, webhook_receiver):
    app = make_app(notifications={"retry_delay": 10, "max_retry_delay": 25, "max_attempts": 4})
    owner = make_user(app, "alice@example.com")
    token = make_token(app, "alice@example.com")
    path = webhook_receiver.path()
    webhook_receiver.respond(path, 500)
    target_id(app.test_client(), token, name="down", kind="webhook",
              url=webhook_receiver.url(path), secret=WEBHOOK_SECRET)  # fmt: skip
    transition(app, owner)
    now = utcnow()
    waits = []
    for _ in range(3):
        assert deliver(app, now)[0][0] == "pending"
        [row] = deliveries(app)
        waits.append((row.next_attempt_at - now).total_seconds())
        now = row.next_attempt_at
    assert waits == [10, 20, 25]
    assert deliver(app, now)[0][0] == "failed"
    [row] = deliveries(app)
    assert (row.status, row.attempts, row.next_attempt_at) == ("failed", 4, None)
    assert "HTTP 500" in row.last_error
    assert deliver(app, now + timedelta(days=1)) == []
    assert len(webhook_receiver.requests(path)) == 4


def test_one_delivery_per_transition_and_target_however_often_the_job_runs(
    app, client, user, token, webhook_receiver
):
    path = webhook_receiver.path()
    target_id(client, token, name="hook", kind="webhook", url=webhook_receiver.url(path),
              secret=WEBHOOK_SECRET)  # fmt: skip
    with app.app_context():
        from syncapp.auth.accounts import find_user

        alice = find_user(user).id
    transition(app, alice)
    now = utcnow()
    assert deliver(app, now) == [("delivered", None)]
    assert deliver(app, now) == []
    assert deliver(app, now + timedelta(minutes=5)) == []
    # the background job itself, twice
    from syncapp.notifications.background import JOBS

    [job] = JOBS
    for _ in range(2):
        with app.app_context():
            job.run()
    assert len(webhook_receiver.requests(path)) == 1
    assert len(deliveries(app)) == 1


def test_a_resolved_transition_sends_one_resolved_notification(
    app, client, user, token, smtp_server
):
    to = _mailbox()
    target_id(client, token, name="mail", kind="apprise", url=smtp_server.url(to))
    with app.app_context():
        from syncapp.auth.accounts import find_user

        alice = find_user(user).id
    alert_id, _ = transition(app, alice, "firing")
    now = utcnow()
    deliver(app, now)
    transition(app, alice, "resolved", alert_id=alert_id)
    assert deliver(app, now + timedelta(minutes=1)) == [("delivered", None)]
    assert deliver(app, now + timedelta(minutes=2)) == []

    subjects = [m["Subject"] for m in smtp_server.messages_to(to)]
    assert len(subjects) == 2
    assert "FIRING" in subjects[0]
    assert "RESOLVED" in subjects[1]


def test_store_wide_alerts_go_to_administrators_targets_only(
    app, client, user, token, admin, admin_token, webhook_receiver
):
    admins, users = webhook_receiver.path(), webhook_receiver.path()
    target_id(client, admin_token, name="ops", kind="webhook", url=webhook_receiver.url(admins),
              secret=WEBHOOK_SECRET)  # fmt: skip
    target_id(client, token, name="mine", kind="webhook", url=webhook_receiver.url(users),
              secret=WEBHOOK_SECRET)  # fmt: skip
    transition(app, None, title="Free space under 5 %")
    assert deliver(app) == [("delivered", None)]
    [received] = webhook_receiver.requests(admins)
    assert json.loads(received.body)["alert"]["title"] == "Free space under 5 %"
    assert webhook_receiver.requests(users) == []


def test_a_disabled_target_and_a_target_made_after_the_alert_get_nothing(
    app, client, user, token, webhook_receiver
):
    with app.app_context():
        from syncapp.auth.accounts import find_user

        alice = find_user(user).id
    transition(app, alice, at=utcnow() - timedelta(minutes=5))  # before the targets existed
    off, later = webhook_receiver.path(), webhook_receiver.path()
    target_id(client, token, name="off", kind="webhook", url=webhook_receiver.url(off),
              secret=WEBHOOK_SECRET, enabled=False)  # fmt: skip
    target_id(client, token, name="later", kind="webhook", url=webhook_receiver.url(later),
              secret=WEBHOOK_SECRET)  # fmt: skip
    transition(app, alice)
    assert deliver(app) == [("delivered", None)]
    assert webhook_receiver.requests(off) == []
    assert len(webhook_receiver.requests(later)) == 1


def test_a_claim_left_by_a_dead_sender_is_sent_again_once_its_lease_ran_out(
    app, client, user, token, webhook_receiver
):
    from syncapp.notifications.outbox import delivery_claims, fan_out

    path = webhook_receiver.path()
    target_id(client, token, name="hook", kind="webhook", url=webhook_receiver.url(path),
              secret=WEBHOOK_SECRET)  # fmt: skip
    with app.app_context():
        from syncapp.auth.accounts import find_user

        transition(app, find_user(user).id)
        policy = wiring.delivery_policy()
        now = utcnow()
        fan_out(db.session, now, policy)
        [row_id] = db.session.scalars(select(NotificationDelivery.id))
        # a sender claims it and dies before sending
        assert delivery_claims(timedelta(seconds=policy.lease)).claim(db.session, row_id, now=now)
    assert deliver(app, now) == []  # still held
    assert deliver(app, now + timedelta(seconds=policy.lease + 1)) == [("delivered", None)]
    assert len(webhook_receiver.requests(path)) == 1
