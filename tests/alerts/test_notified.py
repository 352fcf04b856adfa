"""From a missed backup to a notification and back: the evaluator's transitions are the
notifications' outbox, so a real webhook receiver gets one "firing" and one "resolved" per
change however often the evaluator and the delivery job run."""

from __future__ import annotations

import json
from datetime import timedelta

from syncapp.backups.models import BackupArchive
from syncapp.notifications import wiring as notifications
from syncapp.timeutil import utcnow
from tests.alerts.helpers import backdate, evaluate
from tests.backups.helpers import make_archive, upload
from tests.conftest import make_token, make_user
from tests.notifications.helpers import WEBHOOK_SECRET, target_id


def _deliver(app, now=None) -> list[str]:
    with app.app_context():
        return [o.status for o in notifications.deliver_due(now or utcnow())]


def test_a_missed_backup_notifies_once_and_its_upload_once_more(app, webhook_receiver):
    make_user(app, "erin@example.com")
    token = make_token(app, "erin@example.com")
    client = app.test_client()
    path = webhook_receiver.path()
    target_id(
        client, token, name="script", kind="webhook", url=webhook_receiver.url(path),
        secret=WEBHOOK_SECRET,
    )  # fmt: skip
    sent = upload(
        client, token, make_archive(7), "full_2026-04-01_00-00-00.tar.gz",
        type="FULL", profile="erin-web",
    )  # fmt: skip
    assert sent.status_code == 201
    backdate(app, BackupArchive, "uploaded_at", timedelta(hours=30))

    for _ in range(3):  # the evaluator and the delivery job run again and again
        evaluate(app)
        _deliver(app)
    [fired] = webhook_receiver.requests(path)
    body = json.loads(fired.body)
    assert body["event"] == "alert.firing" and "erin-web" in body["alert"]["title"]

    sent = upload(
        client, token, make_archive(8), "inc_2026-04-02_00-00-00.tar.gz",
        type="INC", profile="erin-web",
    )  # fmt: skip
    assert sent.status_code == 201
    for _ in range(3):
        evaluate(app)
        _deliver(app)
    events = [json.loads(r.body)["event"] for r in webhook_receiver.requests(path)]
    assert events == ["alert.firing", "alert.resolved"]
