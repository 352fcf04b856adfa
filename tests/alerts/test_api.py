"""GET /api/v1/alerts and /alerts/<id> with its history, the expectations API, the Alerts page
and the health banner on every page: each user sees their own alerts only, administrators also
the store-wide ones."""

from __future__ import annotations

from datetime import timedelta

from syncapp.auth.accounts import find_user
from syncapp.cordiax.wiring import snapshot_store
from syncapp.timeutil import utcnow
from tests.alerts.helpers import evaluate, firing_keys, transitions
from tests.backups.helpers import make_archive, upload
from tests.conftest import bearer, make_token, make_user
from tests.cordiax.payloads import encrypted_database
from tests.web.test_pages import HTML, sign_in

HUGE = 1024**6


def _world(app):
    """A and B with a silent device each, and a store-wide alert (free space) firing."""
    ids = {}
    for name in ("ann", "bob"):
        email = f"{name}@example.com"
        ids[name] = make_user(app, email)
        with app.app_context():
            snapshot_store().store(
                ids[name], f"{name}-pc", encrypted_database(2000, seed=len(name))
            )
    make_user(app, "root@example.com", role="admin")
    evaluate(app, utcnow() + timedelta(days=3), min_free_space=HUGE)
    return ids


def test_each_user_sees_their_own_alerts_and_admins_everything(app):
    ids = _world(app)
    ann, bob = (bearer(make_token(app, f"{n}@example.com")) for n in ("ann", "bob"))
    root = bearer(make_token(app, "root@example.com"))
    client = app.test_client()

    mine = client.get("/api/v1/alerts", headers=ann).get_json()
    assert [a["key"] for a in mine["alerts"]] == [f"cordiax_silence:{ids['ann']}:ann-pc"]
    assert mine["firing"] == mine["total"] == 1
    assert "bob-pc" not in client.get("/api/v1/alerts", headers=ann).get_data(as_text=True)

    everything = client.get("/api/v1/alerts", headers=root).get_json()["alerts"]
    kinds = {a["kind"] for a in everything}
    assert {"cordiax_silence", "free_space"} <= kinds
    assert any(a["owner_id"] is None for a in everything)
    store = client.get("/api/v1/alerts?owner=store", headers=root).get_json()["alerts"]
    assert store and all(a["owner_id"] is None for a in store)
    bobs = client.get(f"/api/v1/alerts?owner={ids['bob']}", headers=root).get_json()["alerts"]
    assert [a["owner_id"] for a in bobs] == [ids["bob"]]

    # B cannot name A, nor read A's alert by id
    assert client.get(f"/api/v1/alerts?owner={ids['ann']}", headers=bob).status_code == 404
    assert client.get("/api/v1/alerts?owner=store", headers=bob).status_code == 404
    anns_id = mine["alerts"][0]["id"]
    missing = client.get(f"/api/v1/alerts/{anns_id}", headers=bob)
    assert missing.status_code == 404 and missing.get_json()["error"] == "alert_not_found"
    assert client.get(f"/api/v1/alerts/{anns_id}", headers=root).status_code == 200
    assert client.get("/api/v1/alerts").status_code == 401


def test_an_alert_shows_its_history_and_the_list_filters_by_state(app):
    ids = _world(app)
    ann = bearer(make_token(app, "ann@example.com"))
    client = app.test_client()
    with app.app_context():
        snapshot_store().store(ids["ann"], "ann-pc", encrypted_database(2000, seed=9))
    evaluate(app)  # the snapshot arrived: resolved
    evaluate(app, utcnow() + timedelta(days=3))  # silent again: fires again
    key = f"cordiax_silence:{ids['ann']}:ann-pc"
    assert transitions(app, key) == ["firing", "resolved", "firing"]

    listed = client.get("/api/v1/alerts?state=firing", headers=ann).get_json()["alerts"]
    detail = client.get(f"/api/v1/alerts/{listed[0]['id']}", headers=ann).get_json()
    assert detail["state"] == "firing" and detail["first_seen_at"].endswith("Z")
    assert [h["state"] for h in detail["history"]] == ["firing", "resolved", "firing"][::-1]
    assert detail["link"] == "/cordiax"
    assert client.get("/api/v1/alerts?state=resolved", headers=ann).get_json()["total"] == 0
    bad = client.get("/api/v1/alerts?state=burning", headers=ann)
    assert bad.status_code in (400, 422) and bad.get_json()["status"] == "error"


def test_the_banner_names_what_fires_for_the_viewer_only(app):
    ids = _world(app)
    ann, bob, root = (app.test_client() for _ in range(3))
    sign_in(ann, "ann@example.com")
    sign_in(bob, "bob@example.com")
    sign_in(root, "root@example.com")
    for page in ("/dashboard", "/backups", "/alerts"):
        body = ann.get(page, headers=HTML).get_data(as_text=True)
        assert 'id="health-banner"' in body and "ann-pc" in body, page
        assert "bob-pc" not in body and "Low free space" not in body
    admin_page = root.get("/alerts", headers=HTML).get_data(as_text=True)
    assert "Low free space" in admin_page and "ann-pc" in admin_page and "bob-pc" in admin_page

    # B's device sends a snapshot: B's banner goes away, A's stays
    with app.app_context():
        snapshot_store().store(ids["bob"], "bob-pc", encrypted_database(2000, seed=7))
    evaluate(app, min_free_space=HUGE)
    assert 'id="health-banner"' not in bob.get("/dashboard", headers=HTML).get_data(as_text=True)
    bobs_alerts = bob.get("/alerts", headers=HTML).get_data(as_text=True)
    assert "bob-pc" in bobs_alerts and "ann-pc" not in bobs_alerts  # in Resolved
    anns_alert = ann.get("/api/v1/alerts").get_json()["alerts"][0]["id"]
    assert bob.get(f"/alerts/{anns_alert}", headers=HTML).status_code == 404
    detail = ann.get(f"/alerts/{anns_alert}", headers=HTML).get_data(as_text=True)
    assert "History" in detail and "ann-pc" in detail
    # the login page has no banner (nobody is signed in)
    assert 'id="health-banner"' not in app.test_client().get("/login", headers=HTML).get_data(
        as_text=True
    )


def test_expectations_override_the_defaults_per_subject(app, user, token):
    client = app.test_client()
    me = bearer(token)
    with app.app_context():
        owner = find_user(user).id
    defaults = client.get("/api/v1/alerts/expectations", headers=me).get_json()
    assert defaults["defaults"]["backups"]["any_every"] == 26 * 3600
    assert defaults["expectations"] == []

    # a profile that never sent anything, expected hourly: late once an hour has passed
    put = client.put(
        "/api/v1/alerts/expectations/backups/db01", headers=me, json={"any_every": 3600}
    )
    assert put.status_code == 200, put.get_json()
    assert put.get_json()["effective"] == {"any_every": 3600, "full_every": 7 * 86400}
    assert evaluate(app)["fired"] == []
    key = f"backup_rhythm:{owner}:db01:ANY"
    assert evaluate(app, utcnow() + timedelta(minutes=61))["fired"] == [key]
    reply = upload(
        client, token, make_archive(5), "full_2026-02-01_00-00-00.tar.gz",
        type="FULL", profile="db01",
    )  # fmt: skip
    assert reply.status_code == 201
    assert firing_keys(app, "backup_rhythm") == set()  # the upload resolved it
    assert transitions(app, key) == ["firing", "resolved"]

    # watch false: never alert about it
    client.put("/api/v1/alerts/expectations/backups/db01", headers=me, json={"watch": False})
    assert evaluate(app, utcnow() + timedelta(days=30))["fired"] == []
    assert firing_keys(app, "backup_rhythm") == set()

    # fields of another kind, unknown kinds, another user's job: clear errors
    wrong = client.put(
        "/api/v1/alerts/expectations/backups/db01", headers=me, json={"max_silence": 600}
    )
    assert wrong.status_code == 400 and wrong.get_json()["error"] == "invalid_expectation"
    unknown = client.put("/api/v1/alerts/expectations/printers/x", headers=me, json={})
    assert unknown.status_code == 404
    assert (
        client.put("/api/v1/alerts/expectations/syncs/999", headers=me, json={}).status_code == 404
    )
    too_short = client.put(
        "/api/v1/alerts/expectations/cordiax/pc", headers=me, json={"max_silence": 1}
    )
    assert too_short.status_code == 400
    assert client.delete("/api/v1/alerts/expectations/backups/db01", headers=me).status_code == 204
    assert client.delete("/api/v1/alerts/expectations/backups/db01", headers=me).status_code == 404
