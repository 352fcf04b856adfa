"""Bounds on what one user may make issue 20's background work do: every expectation is watched
at each evaluation and every target receives each alert change, so neither grows without end
(alerts.max_expectations, notifications.max_targets)."""

from __future__ import annotations

from tests.conftest import bearer, make_token, make_user


def test_one_user_cannot_set_expectations_without_end(make_app):
    app = make_app(alerts={"max_expectations": 3})
    make_user(app, "alice@example.com")
    make_user(app, "bob@example.com")
    alice, bob = make_token(app, "alice@example.com"), make_token(app, "bob@example.com")
    client = app.test_client()

    def put(token: str, profile: str):
        return client.put(
            f"/api/v1/alerts/expectations/backups/{profile}",
            headers=bearer(token),
            json={"any_every": 3600},
        )

    assert [put(alice, f"p{n}").status_code for n in range(3)] == [200, 200, 200]
    refused = put(alice, "p3")
    assert refused.status_code == 409 and refused.get_json()["error"] == "too_many_expectations"
    assert put(alice, "p0").status_code == 200  # replacing one is not one more
    assert put(bob, "p3").status_code == 200  # per user
    assert (
        client.delete("/api/v1/alerts/expectations/backups/p1", headers=bearer(alice)).status_code
        == 204
    )
    assert put(alice, "p3").status_code == 200


def test_one_user_cannot_add_notification_targets_without_end(make_app):
    app = make_app(notifications={"max_targets": 2})
    make_user(app, "alice@example.com")
    alice = make_token(app, "alice@example.com")
    client = app.test_client()

    def add(name: str):
        body = {"name": name, "kind": "apprise", "url": "json://93.184.215.14/x"}
        return client.post("/api/v1/notifications/targets", headers=bearer(alice), json=body)

    assert [add("a").status_code, add("b").status_code] == [201, 201]
    refused = add("c")
    assert refused.status_code == 409 and refused.get_json()["error"] == "too_many_targets"
