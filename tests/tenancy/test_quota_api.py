"""Quotas per user: administrators set them (PATCH /api/v1/users/<id> `quota_bytes`), users
read their own usage (GET /api/v1/quota) and nobody else's."""

from __future__ import annotations

import pytest

from tests.conftest import bearer, make_token, make_user
from tests.documents.helpers import uploaded


@pytest.fixture
def world(make_app):
    app = make_app(quota={"per_user": 1_000_000})
    ids = {
        "admin": make_user(app, "root@example.com", role="admin"),
        "a": make_user(app, "a@example.com"),
        "b": make_user(app, "b@example.com"),
    }
    tokens = {
        "admin": make_token(app, "root@example.com"),
        "a": make_token(app, "a@example.com"),
        "b": make_token(app, "b@example.com"),
    }
    return app.test_client(), ids, tokens


def test_an_administrator_sets_and_clears_a_users_quota(world):
    client, ids, tokens = world
    url, admin = f"/api/v1/users/{ids['a']}", bearer(tokens["admin"])
    reply = client.patch(url, json={"quota_bytes": 5000}, headers=admin)
    assert reply.status_code == 200 and reply.get_json()["quota_bytes"] == 5000
    assert client.get(url, headers=admin).get_json()["quota_bytes"] == 5000
    mine = client.get("/api/v1/quota", headers=bearer(tokens["a"])).get_json()
    assert (mine["quota_bytes"], mine["quota_source"], mine["used_bytes"]) == (5000, "user", 0)

    assert client.patch(url, json={"quota_bytes": None}, headers=admin).status_code == 200
    mine = client.get("/api/v1/quota", headers=bearer(tokens["a"])).get_json()
    assert (mine["quota_bytes"], mine["quota_source"]) == (1_000_000, "server")


@pytest.mark.parametrize("value", [-1, "5000", 1.5, True, 2**63])
def test_a_quota_that_is_not_a_byte_count_is_refused(world, value):
    client, ids, tokens = world
    url, admin = f"/api/v1/users/{ids['a']}", bearer(tokens["admin"])
    reply = client.patch(url, json={"quota_bytes": value}, headers=admin)
    assert reply.status_code == 400
    assert "quota_bytes" in reply.get_json()["errors"]
    assert client.get(url, headers=admin).get_json()["quota_bytes"] is None


def test_users_cannot_set_quotas_even_their_own(world):
    client, ids, tokens = world
    for target in ("a", "b"):
        reply = client.patch(
            f"/api/v1/users/{ids[target]}", json={"quota_bytes": 10**12},
            headers=bearer(tokens["a"]),
        )  # fmt: skip
        assert reply.status_code == 403
    admin = bearer(tokens["admin"])
    assert client.get(f"/api/v1/users/{ids['a']}", headers=admin).get_json()["quota_bytes"] is None


def test_b_cannot_read_as_usage_and_it_answers_like_nobody(world):
    client, ids, tokens = world
    uploaded(client, tokens["a"], b"a" * 1234, "a-secret.pdf")
    as_b = bearer(tokens["b"])
    others = client.get("/api/v1/quota", query_string={"owner": ids["a"]}, headers=as_b)
    by_mail = client.get("/api/v1/quota", query_string={"owner": "a@example.com"}, headers=as_b)
    nobody = client.get("/api/v1/quota", query_string={"owner": "nobody@example.com"}, headers=as_b)
    assert others.status_code == by_mail.status_code == nobody.status_code == 404
    assert others.get_json()["error"] == nobody.get_json()["error"]
    assert "1234" not in others.get_data(as_text=True)
    mine = client.get("/api/v1/quota", headers=as_b).get_json()
    assert mine["user_id"] == ids["b"] and mine["used_bytes"] == 0
    # An administrator reads anyone's, by id or email.
    admin = bearer(tokens["admin"])
    theirs = client.get("/api/v1/quota", query_string={"owner": "a@example.com"}, headers=admin)
    assert theirs.get_json()["usage"]["documents"] == 1234
    assert theirs.get_json()["available_bytes"] == 1_000_000 - 1234


def test_the_quota_endpoint_is_documented(world):
    client, _, tokens = world
    spec = client.get("/api/v1/openapi.json", headers=bearer(tokens["a"])).get_json()
    reply = spec["paths"]["/api/v1/quota"]["get"]["responses"]["200"]
    assert reply["content"]["application/json"]["schema"]["$ref"].endswith("/QuotaReport")
    assert "quota_bytes" in spec["components"]["schemas"]["UserUpdate"]["properties"]
