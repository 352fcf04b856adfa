"""/api/v1/cordiax: a user sees only their own devices; admins see all and may delete."""

from __future__ import annotations

import pytest

from syncapp.cordiax.store import snapshot_store
from tests.conftest import bearer, make_token, make_user
from tests.cordiax.payloads import encrypted_database, sha256


@pytest.fixture
def fleet(app):
    alice, bob = make_user(app, "alice@example.com"), make_user(app, "bob@example.com")
    make_user(app, "root@example.com", role="admin")
    data = {
        "alice": encrypted_database(3000, seed=1),
        "alice2": encrypted_database(3000, seed=2),
        "bob": encrypted_database(3000, seed=3),
    }
    with app.app_context():
        store = snapshot_store()
        store.store(alice, "alice-pc", data["alice"])
        store.store(alice, "alice-pc", data["alice2"])
        store.store(bob, "bob-pc", data["bob"])
    return {
        "alice": make_token(app, "alice@example.com"),
        "bob": make_token(app, "bob@example.com"),
        "admin": make_token(app, "root@example.com"),
        "data": data,
    }


def test_users_list_only_their_devices(client, fleet):
    mine = client.get("/api/v1/cordiax/devices", headers=bearer(fleet["alice"])).get_json()
    assert [(d["device"], d["snapshots"]) for d in mine] == [("alice-pc", 2)]
    assert mine[0]["latest"]["sha256"] == sha256(fleet["data"]["alice2"])
    every = client.get("/api/v1/cordiax/devices", headers=bearer(fleet["admin"])).get_json()
    assert sorted(d["device"] for d in every) == ["alice-pc", "bob-pc"]


def test_versions_and_downloads(client, fleet):
    versions = client.get(
        "/api/v1/cordiax/devices/alice-pc/snapshots", headers=bearer(fleet["alice"])
    ).get_json()
    assert [v["sha256"] for v in versions] == [
        sha256(fleet["data"]["alice2"]),
        sha256(fleet["data"]["alice"]),
    ]
    old = client.get(
        f"/api/v1/cordiax/devices/alice-pc/snapshots/{versions[1]['version']}/download",
        headers=bearer(fleet["alice"]),
    )
    assert old.status_code == 200 and old.data == fleet["data"]["alice"]
    latest = client.get(
        "/api/v1/cordiax/devices/alice-pc/latest/download", headers=bearer(fleet["alice"])
    )
    assert latest.data == fleet["data"]["alice2"]
    assert latest.headers["X-Checksum-SHA256"] == sha256(fleet["data"]["alice2"])


def test_another_users_device_is_404(client, fleet):
    for path in (
        "/api/v1/cordiax/devices/alice-pc/snapshots",
        "/api/v1/cordiax/devices/alice-pc/latest/download",
    ):
        assert client.get(path, headers=bearer(fleet["bob"])).status_code == 404


def test_only_admins_delete_versions(client, fleet):
    versions = client.get(
        "/api/v1/cordiax/devices/alice-pc/snapshots", headers=bearer(fleet["alice"])
    ).get_json()
    path = f"/api/v1/cordiax/devices/alice-pc/snapshots/{versions[0]['version']}"
    assert client.delete(path, headers=bearer(fleet["alice"])).status_code == 403
    assert client.delete(path, headers=bearer(fleet["admin"])).status_code == 204
    left = client.get(
        "/api/v1/cordiax/devices/alice-pc/snapshots", headers=bearer(fleet["alice"])
    ).get_json()
    assert [v["version"] for v in left] == [versions[1]["version"]]
