"""Scoped API tokens (issue 16): a token bound to features, or to names within one (a backup
profile), reaches only those; `POST /api/v1/tokens` and `flask tokens create --scope` make them."""

from __future__ import annotations

import pytest

from syncapp.auth.models import ApiToken
from syncapp.extensions import db
from tests.backups.helpers import make_archive, md5, store_tree, upload
from tests.conftest import bearer


def scoped_token(client, token: str, *scopes: str) -> str:
    answer = client.post(
        "/api/v1/tokens", headers=bearer(token), json={"name": "machine", "scopes": list(scopes)}
    )
    assert answer.status_code == 201, answer.get_json()
    assert answer.get_json()["scopes"] == list(dict.fromkeys(scopes))  # repeats dropped
    return answer.get_json()["token"]


def test_a_created_token_carries_its_scopes_and_lists_show_them(app, client, token):
    raw = scoped_token(client, token, "backups:web-01", "events", "backups:web-01")
    listed = {
        t["name"]: t["scopes"]
        for t in client.get("/api/v1/tokens", headers=bearer(token)).get_json()
    }
    assert listed == {"test": None, "machine": ["backups:web-01", "events"]}
    with app.app_context():
        stored = db.session.query(ApiToken).filter_by(name="machine").one()
        assert stored.scopes == ["backups:web-01", "events"] and raw.startswith(stored.prefix)


@pytest.mark.parametrize(
    "scopes, reason",
    [
        (["everything"], "Unknown scope 'everything'"),
        (["documents:mine"], "documents takes no name"),
        (["backups:"], "backups takes no name"),
        ("backups", "Not a valid list"),
        ([], "needs at least one scope"),
    ],
)
def test_a_scope_that_means_nothing_is_400_with_the_reason(app, client, token, scopes, reason):
    answer = client.post(
        "/api/v1/tokens", headers=bearer(token), json={"name": "bad", "scopes": scopes}
    )
    assert answer.status_code == 400
    assert reason in answer.get_json()["message"]
    with app.app_context():
        assert db.session.query(ApiToken).filter_by(name="bad").count() == 0


def test_a_scoped_token_reaches_only_its_features(client, token):
    raw = scoped_token(client, token, "backups")
    assert client.get("/list", headers=bearer(raw)).status_code == 200
    for method, path in [
        ("GET", "/api/v1/tokens"),
        ("POST", "/api/v1/tokens"),  # no minting of a broader token
        ("GET", "/api/v1/dashboard"),
        ("GET", "/api/v1/documents"),
        ("GET", "/api/v1/syncs"),
    ]:
        answer = client.open(path, method=method, headers=bearer(raw), json={"name": "x"})
        assert answer.status_code == 403, (method, path)
        assert answer.get_json()["error"] == "token_scope"
    other = scoped_token(client, token, "documents")
    refused = client.get("/list", headers=bearer(other))
    # seed 003's routes: `error` is the sentence its scripts print, the code is in `code`
    assert refused.status_code == 403 and refused.get_json()["code"] == "token_scope"


def test_a_profile_bound_token_writes_and_reads_its_profiles_only(app, client, token, tmp_path):
    full = scoped_token(client, token, "backups")
    web = scoped_token(client, token, "backups:web-01")
    theirs, mine, own_db = make_archive(1), make_archive(2), make_archive(4)
    assert upload(client, full, theirs, "full_db.tar.gz", profile="db-01").status_code == 201
    assert upload(client, full, theirs, "full_db_only.tar.gz", profile="db-01").status_code == 201
    assert upload(client, web, mine, "full_web.tar.gz", profile="web-01").status_code == 201
    before = store_tree(tmp_path / "remote_backups")
    refused = upload(client, web, make_archive(3), "full_x.tar.gz", profile="db-01")
    assert refused.status_code == 403 and refused.get_json()["code"] == "token_scope"
    assert store_tree(tmp_path / "remote_backups") == before
    # Names are unique per profile: web-01's own full_db.tar.gz is stored beside db-01's,
    # which it neither sees nor changes (it used to be 409, which told that db-01 had it).
    same_name = upload(client, web, own_db, "full_db.tar.gz", profile="web-01")
    assert same_name.status_code == 201 and same_name.get_json()["already_stored"] is False
    assert {k: v for k, v in store_tree(tmp_path / "remote_backups").items() if k in before} == (
        before
    )

    listed = client.get("/list", headers=bearer(web)).get_json()
    assert [i["name"] for items in listed["backups"].values() for i in items] == [
        "full_web.tar.gz",
        "full_db.tar.gz",
    ]
    assert client.get("/list?profile=db-01", headers=bearer(web)).get_json()["total_count"] == 0
    stats = client.get("/stats", headers=bearer(web)).get_json()
    assert set(stats["profiles"]) == {"web-01"}
    local = {"FULL": [{"name": "full_db_only.tar.gz", "md5": md5(theirs)}]}
    verified = client.post("/verify", headers=bearer(web), json={"local_backups": local}).get_json()
    assert verified["verification"]["FULL"]["missing_remote"] == ["full_db_only.tar.gz"]
    assert verified["verification"]["FULL"]["extra_remote"] == ["full_db.tar.gz", "full_web.tar.gz"]
    hidden = client.get("/download/FULL/full_db_only.tar.gz", headers=bearer(web))
    assert hidden.status_code == 404 and hidden.get_json()["code"] == "backup_not_found"
    assert client.get("/download/FULL/full_web.tar.gz", headers=bearer(web)).data == mine
    assert client.get("/download/FULL/full_db.tar.gz", headers=bearer(web)).data == own_db
    assert client.get("/list", headers=bearer(full)).get_json()["total_count"] == 4
    # The full token sees both full_db.tar.gz: which one is asked with ?profile=.
    both = client.get("/download/FULL/full_db.tar.gz", headers=bearer(full))
    assert both.status_code == 409 and both.get_json()["code"] == "ambiguous_archive"
    one = client.get("/download/FULL/full_db.tar.gz?profile=db-01", headers=bearer(full))
    assert one.data == theirs


def test_the_cli_makes_scoped_tokens_and_refuses_unknown_scopes(app, user):
    runner = app.test_cli_runner()
    made = runner.invoke(
        args=["tokens", "create", "--email", user, "--name", "web-01", "--scope", "backups:web-01",
              "--scope", "events"]
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    with app.app_context():
        stored = db.session.query(ApiToken).filter_by(name="web-01").one()
        assert stored.scopes == ["backups:web-01", "events"]
    listed = runner.invoke(args=["tokens", "list"])
    assert "backups:web-01,events" in listed.output
    refused = runner.invoke(
        args=["tokens", "create", "--email", user, "--name", "bad", "--scope", "backup"]
    )
    assert refused.exit_code != 0 and "Unknown scope 'backup'" in refused.output
    with app.app_context():
        assert db.session.query(ApiToken).filter_by(name="bad").count() == 0


def test_only_a_token_allowed_events_hears_them(app, client, token):
    from syncapp.extensions import socketio

    backups_only = scoped_token(client, token, "backups:web-01")
    events = scoped_token(client, token, "events")
    # /api/v1/ws authenticates before the upgrade: refused, or 426 "upgrade" once admitted
    assert client.get(f"/api/v1/ws?token={backups_only}").status_code == 401
    assert client.get("/api/v1/ws", headers=bearer(backups_only)).status_code == 403
    assert client.get("/api/v1/ws", headers=bearer(events)).status_code == 426
    refused = socketio.test_client(app, namespace="/events", auth={"token": backups_only})
    admitted = socketio.test_client(app, namespace="/events", auth={"token": events})
    try:
        assert not refused.is_connected("/events")
        assert admitted.is_connected("/events")
    finally:
        admitted.disconnect(namespace="/events")
