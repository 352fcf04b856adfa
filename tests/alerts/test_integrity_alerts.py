"""Issue 20's chain across its parts, on local disk, the S3 peer and the SMB peer: a byte of a
stored archive (then of a Cordiax snapshot and a document) changes, the next scrub marks it
corrupt, the scrub_findings alert fires, a notification reaches a real mail server and an HTTP
receiver (Apprise mailto:// and json://), /verify reports the archive; the right bytes put back,
the next scrub finds it ok, the alert resolves, and one "resolved" notification follows (never a
second "firing", however often the jobs run)."""

from __future__ import annotations

import json
import uuid

from syncapp.notifications import wiring as notifications
from syncapp.scrub.results import HEADER
from syncapp.timeutil import utcnow
from tests.alerts.helpers import evaluate, transitions
from tests.notifications.helpers import target_id
from tests.scrub.helpers import (
    ARCHIVE_NAME,
    flip_one_byte,
    scrub_pass,
    store_one_of_each,
    write_stored,
)
from tests.scrub.test_stores import _downloads, _verify, scrubbed_app

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
    verified = _verify(app, stored)  # /verify reports it
    assert verified["sync_status"] == "OUT_OF_SYNC"
    assert verified["verification"]["FULL"]["corrupt"] == [ARCHIVE_NAME]

    write_stored(app, "backup", stored.paths["backup"], original)
    scrub_pass(app)
    _jobs_run(app, times=3)
    assert transitions(app, key) == ["firing", "resolved"]
    subjects = [m["Subject"] for m in smtp_server.messages_to(mailbox)]
    assert len(subjects) == 2 and "RESOLVED" in subjects[1]
    titles = [json.loads(r.body)["title"] for r in webhook_receiver.requests(path)]
    assert len(titles) == 2 and "RESOLVED" in titles[1]
    assert _verify(app, stored)["sync_status"] == "SYNCHRONIZED"

    # the other stored kinds: a snapshot and a document damaged together fire it again, once
    originals = {
        kind: flip_one_byte(app, kind, stored.paths[kind]) for kind in ("cordiax", "document")
    }
    scrub_pass(app)
    _jobs_run(app, times=3)
    assert transitions(app, key) == ["firing", "resolved", "firing"]
    mails = smtp_server.messages_to(mailbox)
    assert (
        len(mails) == 3 and "FIRING" in mails[2]["Subject"] and "2 corrupt" in mails[2]["Subject"]
    )
    bodies = [json.loads(r.body) for r in webhook_receiver.requests(path)]
    assert len(bodies) == 3 and "2 corrupt" in bodies[2]["title"]
    downloads = _downloads(app, stored)
    for kind in ("cordiax", "document"):  # served, and said
        assert downloads[kind].headers.get(HEADER) == "corrupt", kind
    for kind, data in originals.items():
        write_stored(app, kind, stored.paths[kind], data)
    scrub_pass(app)
    _jobs_run(app, times=3)
    assert transitions(app, key) == ["firing", "resolved", "firing", "resolved"]
    subjects = [m["Subject"] for m in smtp_server.messages_to(mailbox)]
    assert len(subjects) == 4 and "RESOLVED" in subjects[3]
    assert len(webhook_receiver.requests(path)) == 4
