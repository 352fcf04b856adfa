"""A restic repository's rhythm with the clock driven by the test: past `alerts.
restic_snapshot_every` without a new snapshot file it fires, the owner's expectation (PUT
/api/v1/alerts/expectations/restic/<repository>) moves the limit, and a snapshot resolves it."""

from __future__ import annotations

import hashlib
import os
from datetime import timedelta

from syncapp.auth.accounts import find_user
from syncapp.restic.models import ResticRepository
from syncapp.timeutil import utcnow
from tests.alerts.helpers import backdate, evaluate, transitions
from tests.conftest import bearer


def _snapshot(client, headers) -> None:
    content = os.urandom(64)
    name = hashlib.sha256(content).hexdigest()
    reply = client.post(f"/restic/laptop/snapshots/{name}", data=content, headers=headers)
    assert reply.status_code == 200, reply.get_json()


def test_a_repository_past_its_rhythm_fires_and_a_snapshot_resolves_it(app, user, token):
    client, headers = app.test_client(), bearer(token)
    assert client.post("/restic/laptop/?create=true", headers=headers).status_code == 200
    with app.app_context():
        key = f"restic_rhythm:{find_user(user).id}:laptop"

    # never a snapshot: late one rhythm after the repository was created
    assert key not in evaluate(app)["fired"]
    assert evaluate(app, utcnow() + timedelta(hours=27))["fired"] == [key]
    _snapshot(client, headers)
    assert evaluate(app)["resolved"] == [key]

    backdate(app, ResticRepository, "last_snapshot_at", timedelta(hours=27))
    assert evaluate(app)["fired"] == [key]
    # the owner expects one every two days: not late any more
    reply = client.put(
        "/api/v1/alerts/expectations/restic/laptop", json={"any_every": 2 * 86400}, headers=headers
    )
    assert reply.status_code == 200, reply.get_json()
    assert reply.get_json()["effective"] == {"any_every": 2 * 86400}
    assert evaluate(app)["resolved"] == [key]
    backdate(app, ResticRepository, "last_snapshot_at", timedelta(days=1))
    assert evaluate(app)["fired"] == [key]
    _snapshot(client, headers)  # what restic's backup ends with
    assert evaluate(app)["resolved"] == [key]
    assert transitions(app, key) == ["firing", "resolved"] * 3

    missing = client.put(
        "/api/v1/alerts/expectations/restic/nope", json={"watch": False}, headers=headers
    )
    assert missing.status_code == 404
