"""/api/v1/cordiax: a user sees only their own devices; admins see all and may delete."""

from __future__ import annotations

import pytest

from syncapp.cordiax.wiring import snapshot_store
from tests.conftest import bearer, make_token, make_user
from tests.cordiax.payloads import encrypted_database, sha256
from tests.cordiax.tokens import scoped_token


@pytest.fixture
def fleet(app):
    alice, bob = make_user(app, "alice@example.com"), make_user(app, "bob@example.com")
    admin = make_user(app, "root@example.com", role="admin")
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
        "ids": {"alice": alice, "bob": bob, "admin": admin},
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
    # the administrator names whose device: without ?owner= it would be their own alice-pc
    assert client.delete(path, headers=bearer(fleet["admin"])).status_code == 404
    owned = f"{path}?owner=alice@example.com"
    assert client.delete(owned, headers=bearer(fleet["admin"])).status_code == 204
    left = client.get(
        "/api/v1/cordiax/devices/alice-pc/snapshots", headers=bearer(fleet["alice"])
    ).get_json()
    assert [v["version"] for v in left] == [versions[1]["version"]]


def test_admins_see_every_device_named_with_its_owner(client, fleet):
    every = client.get("/api/v1/cordiax/devices", headers=bearer(fleet["admin"])).get_json()
    assert [(d["device"], d["owner"], d["user_id"]) for d in every] == [
        ("alice-pc", "alice@example.com", fleet["ids"]["alice"]),
        ("bob-pc", "bob@example.com", fleet["ids"]["bob"]),
    ]
    bobs = client.get(
        "/api/v1/cordiax/devices?owner=bob@example.com", headers=bearer(fleet["admin"])
    ).get_json()
    assert [d["device"] for d in bobs] == ["bob-pc"]
    mine = client.get("/api/v1/cordiax/devices", headers=bearer(fleet["alice"])).get_json()
    assert [d["owner"] for d in mine] == [None]


def test_an_admin_reaches_a_users_device_only_by_naming_its_owner(app, client, fleet):
    own = encrypted_database(3000, seed=9)
    with app.app_context():
        snapshot_store().store(fleet["ids"]["admin"], "alice-pc", own)
    path = "/api/v1/cordiax/devices/alice-pc/latest/download"
    admin = bearer(fleet["admin"])
    assert client.get(path, headers=admin).data == own
    for ref in ("alice@example.com", "ALICE@example.com", str(fleet["ids"]["alice"])):
        alices = client.get(f"{path}?owner={ref}", headers=admin)
        assert alices.status_code == 200 and alices.data == fleet["data"]["alice2"], ref
    for ref in ("nobody@example.com", "999", "²", "9" * 30, "%20"):
        missing = client.get(f"{path}?owner={ref}", headers=admin)
        assert missing.status_code == 404, ref
        assert missing.get_json()["error"] == "owner_not_found", ref
    nothing = client.get(f"{path}?owner=bob@example.com", headers=admin)
    assert nothing.status_code == 404 and nothing.get_json()["error"] == "snapshot_not_found"


def test_a_user_cannot_name_another_owner(client, fleet):
    bob = bearer(fleet["bob"])
    for path in (
        "/api/v1/cordiax/devices?owner=alice@example.com",
        f"/api/v1/cordiax/devices/alice-pc/snapshots?owner={fleet['ids']['alice']}",
        "/api/v1/cordiax/devices/alice-pc/latest/download?owner=alice@example.com",
    ):
        response = client.get(path, headers=bob)
        assert response.status_code == 404, path
        assert b"alice-pc" not in response.data
    own = client.get(
        "/api/v1/cordiax/devices?owner=alice@example.com", headers=bearer(fleet["alice"])
    )
    assert [d["device"] for d in own.get_json()] == ["alice-pc"]


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/cordiax/devices/alice-pc%0A/snapshots",
        "/api/v1/cordiax/devices/alice-pc%0A/latest/download",
        "/api/v1/cordiax/devices/alice-pc%0A/snapshots/v1/download",
    ],
)
def test_a_device_name_ending_in_a_newline_is_refused(client, fleet, path):
    response = client.get(path, headers=bearer(fleet["alice"]))
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_device"


def test_a_token_bound_to_a_device_reads_only_that_device(app, client, fleet):
    laptop = encrypted_database(3000, seed=4)
    with app.app_context():
        snapshot_store().store(fleet["ids"]["alice"], "alice-laptop", laptop)
    bound = bearer(scoped_token(app, "alice@example.com", ["cordiax:alice-laptop"]))
    listed = client.get("/api/v1/cordiax/devices", headers=bound).get_json()
    assert [d["device"] for d in listed] == ["alice-laptop"]
    latest = client.get("/api/v1/cordiax/devices/alice-laptop/latest/download", headers=bound)
    assert latest.status_code == 200 and latest.data == laptop
    for path in (
        "/api/v1/cordiax/devices/alice-pc/snapshots",
        "/api/v1/cordiax/devices/alice-pc/latest/download",
    ):
        refused = client.get(path, headers=bound)
        assert refused.status_code == 403 and refused.get_json()["error"] == "token_scope"

    other_feature = bearer(scoped_token(app, "alice@example.com", ["backups"]))
    assert client.get("/api/v1/cordiax/devices", headers=other_feature).status_code == 403
    whole = bearer(scoped_token(app, "alice@example.com", ["cordiax"]))
    listed = client.get("/api/v1/cordiax/devices", headers=whole).get_json()
    assert [d["device"] for d in listed] == ["alice-laptop", "alice-pc"]
