"""Issue 20's chain across its parts, on local disk, the S3 peer and the SMB peer: a byte of a
stored archive changes, the next scrub marks it corrupt, the scrub_findings alert fires, a
notification reaches a real mail server and an HTTP receiver (Apprise mailto:// and json://);
the right bytes put back, the next scrub finds it ok, the alert resolves, and one "resolved"
notification follows (never a second "firing", however often the jobs run)."""

from __future__ import annotations

import json
import uuid

from syncapp.notifications import wiring as notifications
from syncapp.timeutil import utcnow
from tests.alerts.helpers import evaluate, transitions
from tests.notifications.helpers import target_id
from tests.scrub.helpers import flip_one_byte, scrub_pass, store_one_of_each, write_stored
from tests.scrub.test_stores import scrubbed_app

__all__ = ["scrubbed_app"]


def _jobs_run(app, times: int = 2) -> None:
    """The leader's evaluation and delivery jobs, run as often as a minute would."""
    for _ in range(times):
        evaluate(app)
        with app.app_context():
            notifications.deliver_due(utcnow())


def test_a_corrupt_archive_fires_notifies_and_resolves_once_fixed(
    scrubbed_app, smtp_server, webhook_receiver
):
    app = scrubbed_app
    stored = store_one_of_each(app)
    client = app.test_client()
    mailbox = f"ops-{uuid.uuid4().hex[:10]}@example.com"
    target_id(client, stored.token, name="mail", kind="apprise", url=smtp_server.url(mailbox))
    path = webhook_receiver.path()
    json_url = f"json://127.0.0.1:{webhook_receiver.port}{path}"
    target_id(client, stored.token, name="json", kind="apprise", url=json_url)
    key = f"scrub_findings:{stored.user_id}"

    scrub_pass(app)
    _jobs_run(app)
    assert transitions(app, key) == []  # everything is whole: nothing fires, nothing is sent

    original = flip_one_byte(app, "backup", stored.paths["backup"])
    scrub_pass(app)
    _jobs_run(app, times=3)
    assert transitions(app, key) == ["firing"]
    [mail] = smtp_server.messages_to(mailbox)
    assert "FIRING" in mail["Subject"] and "1 corrupt" in mail["Subject"]
    [received] = webhook_receiver.requests(path)
    assert "1 corrupt" in json.loads(received.body)["title"]

    write_stored(app, "backup", stored.paths["backup"], original)
    scrub_pass(app)
    _jobs_run(app, times=3)
    assert transitions(app, key) == ["firing", "resolved"]
    subjects = [m["Subject"] for m in smtp_server.messages_to(mailbox)]
    assert len(subjects) == 2 and "RESOLVED" in subjects[1]
    titles = [json.loads(r.body)["title"] for r in webhook_receiver.requests(path)]
    assert len(titles) == 2 and "RESOLVED" in titles[1]
