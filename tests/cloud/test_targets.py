"""Which clouds a user may replicate to: shared stored remotes, or one per user by config."""

from __future__ import annotations

import uuid

import pytest

from syncapp.cloud.targets import configured_targets
from syncapp.extensions import db
from tests.cloud.conftest import CloudUser, stored_remote

pytestmark = pytest.mark.peer


def test_a_per_user_remote_serves_only_its_user(make_cloud_app, s3_server):
    app = make_cloud_app(s3_remote="s3-{user_id}")
    ana, bob = CloudUser(app, "ana@example.com"), CloudUser(app, "bob@example.com")
    prefix = f"per-user-{uuid.uuid4().hex[:12]}"
    stored_remote(app, f"s3-{ana.id}", "s3", {**s3_server.settings, "prefix": prefix})
    with app.app_context():
        assert configured_targets(ana.id)["s3"] is True
        assert configured_targets(bob.id)["s3"] is False
        db.session.remove()
    assert ana.upload(b"mine", "a.txt", sync_s3="true").status_code == 202
    refused = bob.upload(b"mine", "a.txt", sync_s3="true")
    assert refused.status_code == 400 and f"s3-{bob.id}" in refused.get_json()["message"]


def test_a_shared_remote_that_does_not_exist_is_not_offered(make_cloud_app):
    app = make_cloud_app(azure_remote="no-such-remote")
    ana = CloudUser(app, "ana@example.com")
    with app.app_context():
        assert configured_targets(ana.id) == {"google": False, "azure": False, "s3": False}


def test_a_target_that_is_not_set_up_is_named_once_in_its_message(make_cloud_app):
    # Its message is shown after the target's name ("s3: <message>"): it must not name it again.
    from syncapp.cloud.targets import TargetUnavailable, open_target

    app = make_cloud_app(s3_remote="no-such-remote")
    ana = CloudUser(app, "ana@example.com")
    with app.app_context(), pytest.raises(TargetUnavailable) as refused:
        open_target("s3", ana.id)
    assert str(refused.value).startswith("not set up: an administrator sets cloud.s3_remote")
