"""Backups per owner (issue 16, item 3): every user's archives are a namespace of their own.

The install owner (the first administrator) keeps the seed's `<TYPE>/<name>`; everyone else
`users/<id>/<TYPE>/<name>`. Sidecars record the owner, and `reindex` gives every archive back to
the owner it had. Anonymous LAN uploads belong to `backups.anonymous_owner`.
"""

from __future__ import annotations

import io
import json

import pytest

from syncapp.backups.models import BackupArchive
from syncapp.extensions import db
from tests.backups.helpers import encoded_name_form, make_archive, md5, store_tree, upload
from tests.conftest import bearer, make_token, make_user

NAME = "full_2026-12-08_02-00-00.tar.gz"  # as backup.sh names it: predictable


@pytest.fixture
def world(make_app, tmp_path):
    """An install owner and two users, each with a token: (app, client, tokens by name, ids)."""
    app = make_app()
    ids = {
        "root": make_user(app, "root@example.com", role="admin"),
        "alice": make_user(app, "alice@example.com"),
        "bob": make_user(app, "bob@example.com"),
    }
    tokens = {name: make_token(app, f"{name}@example.com") for name in ids}
    return app, app.test_client(), tokens, ids


def names(client, token, query: str = "") -> set[tuple[str, str]]:
    body = client.get(f"/list{query}", headers=bearer(token)).get_json()
    return {(kind, item["name"]) for kind, items in body["backups"].items() for item in items}


def test_a_name_someone_else_took_first_is_still_yours(world, tmp_path):
    """Defect 3: B stored A's predictable name under A's profile; A got 409 and B's bytes."""
    _app, client, tokens, ids = world
    forged, genuine = make_archive(1), make_archive(2)
    assert upload(client, tokens["bob"], forged, NAME, profile="a-home").status_code == 201
    mine = upload(client, tokens["alice"], genuine, NAME, profile="a-home", md5=md5(genuine))
    assert mine.status_code == 201, mine.get_json()
    assert mine.get_json()["path"] == f"users/{ids['alice']}/FULL/{NAME}"
    download = client.get(f"/download/FULL/{NAME}", headers=bearer(tokens["alice"]))
    assert download.status_code == 200 and download.data == genuine
    bobs = client.get(f"/download/FULL/{NAME}", headers=bearer(tokens["bob"]))
    assert bobs.data == forged
    tree = store_tree(tmp_path / "remote_backups")
    assert tree[f"users/{ids['alice']}/FULL/{NAME}"] == genuine
    assert tree[f"users/{ids['bob']}/FULL/{NAME}"] == forged
    sidecar = json.loads(tree[f"users/{ids['alice']}/FULL/{NAME}.meta.json"])
    assert sidecar["owner"] == {"id": ids["alice"], "email": "alice@example.com"}


def test_lists_stats_and_verify_answer_from_the_callers_namespace(world):
    _app, client, tokens, _ = world
    upload(client, tokens["alice"], make_archive(3), "full_alice.tar.gz", profile="a-home")
    upload(client, tokens["bob"], make_archive(4), "full_bob.tar.gz", profile="b-home")
    assert names(client, tokens["alice"]) == {("FULL", "full_alice.tar.gz")}
    assert names(client, tokens["root"]) == set()  # the administrator's own namespace
    stats = client.get("/stats", headers=bearer(tokens["bob"])).get_json()
    assert set(stats["profiles"]) == {"b-home"} and stats["total"]["files"] == 1
    local = {"FULL": [{"name": "full_alice.tar.gz"}]}
    verified = client.post(
        "/verify", json={"local_backups": local}, headers=bearer(tokens["bob"])
    ).get_json()
    assert verified["verification"]["FULL"]["missing_remote"] == ["full_alice.tar.gz"]
    assert verified["verification"]["FULL"]["extra_remote"] == ["full_bob.tar.gz"]
    missing = client.get("/download/FULL/full_alice.tar.gz", headers=bearer(tokens["bob"]))
    assert missing.status_code == 404 and missing.get_json()["code"] == "backup_not_found"


def test_administrators_name_an_owner_and_users_cannot(world):
    _app, client, tokens, ids = world
    data = make_archive(5)
    upload(client, tokens["alice"], data, "full_alice.tar.gz")
    for ref in ("alice@example.com", str(ids["alice"])):
        assert names(client, tokens["root"], f"?owner={ref}") == {("FULL", "full_alice.tar.gz")}
    download = client.get(
        f"/download/FULL/full_alice.tar.gz?owner={ids['alice']}", headers=bearer(tokens["root"])
    )
    assert download.data == data
    # Bob naming Alice, or nobody, gets the answer of an unknown owner: accounts stay unknown.
    answers = [
        client.get(f"/list?owner={ref}", headers=bearer(tokens["bob"]))
        for ref in ("alice@example.com", str(ids["alice"]), "nobody@example.com")
    ]
    assert {r.status_code for r in answers} == {404}
    assert {r.get_json()["code"] for r in answers} == {"owner_not_found"}
    assert "full_alice" not in "".join(r.get_data(as_text=True) for r in answers)
    # A user may name themselves.
    assert names(client, tokens["alice"], "?owner=alice@example.com") == {
        ("FULL", "full_alice.tar.gz")
    }


def test_the_install_owner_keeps_the_seed_layout_unless_an_earlier_owner_holds_the_path(
    world, tmp_path
):
    app, client, tokens, ids = world
    first, second = make_archive(6), make_archive(7)
    assert upload(client, tokens["root"], first, NAME).get_json()["path"] == f"FULL/{NAME}"
    # The first administrator leaves: the next one becomes the install owner.
    make_user(app, "next@example.com", role="admin")
    with app.app_context():
        from syncapp.auth.models import User

        db.session.get(User, ids["root"]).active = False
        db.session.commit()
    successor = make_token(app, "next@example.com")
    answer = upload(client, successor, second, NAME)
    assert answer.status_code == 201
    assert answer.get_json()["path"].startswith("users/") and answer.get_json()["path"] != NAME
    tree = store_tree(tmp_path / "remote_backups")
    assert tree[f"FULL/{NAME}"] == first
    assert tree[answer.get_json()["path"]] == second


def test_reindex_gives_every_archive_back_to_its_owner(world, tmp_path):
    from syncapp.backups.wiring import archive_store

    app, client, tokens, ids = world
    root = tmp_path / "remote_backups"
    upload(client, tokens["root"], make_archive(8), "full_root.tar.gz", profile="r")
    upload(client, tokens["alice"], make_archive(9), NAME, profile="a")
    upload(client, tokens["bob"], make_archive(10), NAME, profile="b")
    # Sidecars written before owners existed: the owner folder, else the uploader, says whose.
    legacy = json.loads((root / "FULL" / "full_root.tar.gz.meta.json").read_text())
    legacy.pop("owner")
    (root / "FULL" / "full_legacy.tar.gz").write_bytes(make_archive(11))
    (root / "FULL" / "full_legacy.tar.gz.meta.json").write_text(
        json.dumps({**legacy, "size": len(make_archive(11)), "uploader": "bob@example.com"})
    )
    bob_folder = root / "users" / str(ids["bob"]) / "INC"
    bob_folder.mkdir(parents=True)
    (bob_folder / "inc_nosidecar.tar.gz").write_bytes(make_archive(12))
    (root / "FULL" / "full_orphan.tar.gz").write_bytes(make_archive(13))  # no sidecar at all
    (root / "FULL" / "notes.txt").write_text("not an archive")
    with app.app_context():
        db.session.query(BackupArchive).delete()
        db.session.commit()
        assert archive_store().reindex() == 6
        owners = {(a.path, a.owner_id) for a in db.session.query(BackupArchive).all()}
    assert owners == {
        ("FULL/full_root.tar.gz", ids["root"]),
        (f"users/{ids['alice']}/FULL/{NAME}", ids["alice"]),
        (f"users/{ids['bob']}/FULL/{NAME}", ids["bob"]),
        ("FULL/full_legacy.tar.gz", ids["bob"]),
        (f"users/{ids['bob']}/INC/inc_nosidecar.tar.gz", ids["bob"]),
        ("FULL/full_orphan.tar.gz", ids["root"]),
    }
    assert (root / "FULL" / "notes.txt").read_text() == "not an archive"
    assert names(client, tokens["alice"]) == {("FULL", NAME)}


def anonymous_upload(client, seed: int, name: str):
    return client.post(
        "/upload",
        data={"file": (io.BytesIO(make_archive(seed)), name), "profile": "lan"},
        content_type="multipart/form-data",
        environ_base={"REMOTE_ADDR": "10.9.1.2"},
    )


LAN = {"allow_anonymous": True, "anonymous_networks": ["10.9.0.0/16"]}


def test_anonymous_uploads_belong_to_the_anonymous_owner(make_app):
    app = make_app(backups={**LAN, "anonymous_owner": "alice@example.com"})
    make_user(app, "root@example.com", role="admin")
    make_user(app, "alice@example.com")
    client = app.test_client()
    assert anonymous_upload(client, 14, "full_lan.tar.gz").status_code == 201
    assert names(client, make_token(app, "alice@example.com")) == {("FULL", "full_lan.tar.gz")}
    assert names(client, make_token(app, "root@example.com")) == set()
    listed = client.get("/list", environ_base={"REMOTE_ADDR": "10.9.1.2"}).get_json()
    assert listed["total_count"] == 1  # the LAN client reads what it sent
    other = client.get("/list?owner=root@example.com", environ_base={"REMOTE_ADDR": "10.9.1.2"})
    assert other.status_code == 404 and other.get_json()["code"] == "owner_not_found"


@pytest.mark.parametrize("owner", [None, "nobody@example.com"])
def test_anonymous_uploads_nobody_can_own_are_refused_and_store_nothing(make_app, tmp_path, owner):
    app = make_app(backups={**LAN, "anonymous_owner": owner})
    make_user(app, "alice@example.com")  # no administrator: no install owner either
    answer = anonymous_upload(app.test_client(), 15, "full_lan.tar.gz")
    assert answer.status_code == 503
    body = answer.get_json()
    assert body["code"] == "no_anonymous_owner" and "anonymous_owner" in body["message"]
    assert "nobody@example.com" not in body["message"]
    assert store_tree(tmp_path / "remote_backups") == {}


def two_users(make_app, **settings):
    """(client, Alice's token, Bob's token) on an app with these settings."""
    app = make_app(**settings)
    for name in ("alice", "bob"):
        make_user(app, f"{name}@example.com")
    tokens = [make_token(app, f"{name}@example.com") for name in ("alice", "bob")]
    return app.test_client(), *tokens


def big(seed: int) -> bytes:
    """A gzip archive of about 2 KB (gzip would shrink any real payload of that size)."""
    return make_archive(seed) + bytes(2000)


def test_the_per_user_quota_counts_the_owners_backups_only(make_app, tmp_path):
    client, alice, bob = two_users(make_app, quota={"per_user": 3000})
    assert upload(client, alice, big(16), "full_1.tar.gz").status_code == 201
    assert upload(client, bob, big(17), "full_1.tar.gz").status_code == 201
    before = store_tree(tmp_path / "remote_backups")
    refused = upload(client, alice, big(18), "full_2.tar.gz", profile="other")
    assert refused.status_code == 507 and refused.get_json()["code"] == "quota_exceeded"
    assert store_tree(tmp_path / "remote_backups") == before


def test_the_profile_quota_is_per_owner(make_app):
    client, alice, bob = two_users(make_app, backups={"profile_quota": 3000})
    assert upload(client, alice, big(19), "full_1.tar.gz", profile="home").status_code == 201
    assert upload(client, bob, big(20), "full_2.tar.gz", profile="home").status_code == 201
    again = upload(client, alice, big(21), "full_3.tar.gz", profile="home")
    assert again.status_code == 507 and again.get_json()["code"] == "quota_exceeded"


def test_a_chain_builds_on_its_owners_full_only(world):
    _app, client, tokens, _ = world
    upload(client, tokens["bob"], make_archive(22), "full_b.tar.gz", type="FULL", profile="p")
    inc = upload(client, tokens["alice"], make_archive(23), "inc_a.tar.gz", type="INC", profile="p")
    assert inc.get_json()["base_archive"] is None
    item = client.get("/list/INC", headers=bearer(tokens["alice"])).get_json()["backups"][0]
    assert item["base_missing"] is True


@pytest.mark.parametrize("name", ["full_x.tar.gz\n", "full_x.tar.gz\nX-Injected: 1"])
def test_names_with_a_newline_are_refused(world, tmp_path, name):
    """Defect 8: `$` matched before a final newline; such names were stored, then 500 on
    download."""
    from syncapp.backups.store import check_name
    from syncapp.failures import BadRequest

    with pytest.raises(BadRequest):
        check_name(name)
    _app, client, tokens, _ = world
    body, content_type = encoded_name_form(name, make_archive(24), type="FULL")
    answer = client.post(
        "/upload", headers=bearer(tokens["alice"]), data=body, content_type=content_type
    )
    assert answer.status_code == 400 and answer.get_json()["code"] == "invalid_name"
    assert store_tree(tmp_path / "remote_backups") == {}


def test_a_stored_name_with_a_newline_downloads_as_a_clear_400(world, tmp_path):
    """Archives stored before names were checked whole: a JSON error, never a 500."""
    app, client, tokens, _ids = world
    upload(client, tokens["alice"], make_archive(25), "full_ok.tar.gz")
    with app.app_context():
        db.session.query(BackupArchive).update({BackupArchive.name: "full_ok.tar.gz\n"})
        db.session.commit()
    answer = client.get("/download/FULL/full_ok.tar.gz%0A", headers=bearer(tokens["alice"]))
    assert answer.status_code == 400 and answer.get_json()["code"] == "invalid_name"
