"""/list, /verify, /stats, /download and DELETE, in the shapes seed 003's scripts read."""

from __future__ import annotations

import base64

import pytest

from tests.backups.helpers import make_archive, md5, store_tree, upload
from tests.conftest import bearer

FULL, INC, DIFF = (
    "full_2025-11-21_09-07-19.tar.gz",
    "inc_2025-11-22.tar.gz",
    "diff_2025-11-23.tar.gz",
)


@pytest.fixture
def stored(client, token):
    """One FULL, INC and DIFF of profile "document"; returns {name: bytes}."""
    archives = {FULL: make_archive(1), INC: make_archive(2), DIFF: make_archive(3)}
    for (name, data), kind in zip(archives.items(), ["FULL", "INC", "DIFF"], strict=True):
        assert upload(client, token, data, name, type=kind, profile="document").status_code == 201
    return archives


def test_list_has_the_seed_shape(client, token, stored):
    body = client.get("/list", headers=bearer(token)).get_json()
    assert body["status"] == "success" and body["total_count"] == 3
    assert set(body["backups"]) == {"FULL", "INC", "DIFF"}
    item = body["backups"]["FULL"][0]
    assert {
        "name",
        "size",
        "size_human",
        "modified",
        "md5",
        "type",
        "profile",
        "uploaded_at",
    } <= set(item)
    assert (
        item["name"] == FULL
        and item["md5"] == md5(stored[FULL])
        and item["size"] == len(stored[FULL])
    )
    assert item["modified"].endswith("Z") and "." not in item["modified"]
    assert body["backups"]["INC"][0]["base_archive"] == FULL


def test_list_by_type_has_the_seed_shape(client, token, stored):
    body = client.get("/list/inc", headers=bearer(token)).get_json()
    assert body == {"status": "success", "type": "INC", "count": 1, "backups": body["backups"]}
    assert [b["name"] for b in body["backups"]] == [INC]
    assert client.get("/list/WEEKLY", headers=bearer(token)).status_code == 400


def test_list_filters_by_type_profile_and_time(client, token, stored):
    upload(client, token, make_archive(4), "full_other.tar.gz", profile="photos")
    assert client.get("/list?type=FULL", headers=bearer(token)).get_json()["total_count"] == 2
    photos = client.get("/list?profile=photos", headers=bearer(token)).get_json()
    assert [b["name"] for b in photos["backups"]["FULL"]] == ["full_other.tar.gz"]
    future = client.get("/list?since=2999-01-01T00:00:00Z", headers=bearer(token)).get_json()
    assert future["total_count"] == 0


def test_an_incremental_whose_full_is_gone_is_flagged(client, admin_token, token, stored):
    deleted = client.delete(
        f"/backups/FULL/{FULL}?owner=alice@example.com", headers=bearer(admin_token)
    )
    assert deleted.status_code == 204
    inc = client.get("/list/INC", headers=bearer(token)).get_json()["backups"][0]
    assert inc["base_missing"] is True


def local_list(stored, **changes):
    kinds = {FULL: "FULL", INC: "INC", DIFF: "DIFF"}
    listing = {"FULL": [], "INC": [], "DIFF": []}
    for name, data in stored.items():
        listing[kinds[name]].append({"name": name, "size": len(data), "md5": md5(data)})
    for kind, items in changes.items():
        listing[kind] = items
    return listing


def test_verify_reports_synchronized(client, token, stored):
    body = client.post(
        "/verify", headers=bearer(token), json={"local_backups": local_list(stored)}
    ).get_json()
    assert body["status"] == "success" and body["sync_status"] == "SYNCHRONIZED"
    assert body["issues"] == []
    full = body["verification"]["FULL"]
    assert full == {
        "type": "FULL",
        "local_count": 1,
        "remote_count": 1,
        "synced": [FULL],
        "missing_remote": [],
        "extra_remote": [],
        "mismatched": [],
        "corrupt": [],
        "missing_stored": [],
    }
    assert body["local_in_sync"] is True and body["extra_remote"] == "out_of_sync"


def test_verify_tells_missing_extra_and_mismatched_apart(client, token, stored):
    listing = local_list(
        stored,
        FULL=[
            {"name": FULL, "size": len(stored[FULL]), "md5": "f" * 32},
            {"name": "full_local_only.tar.gz", "size": 10, "md5": "a" * 32},
        ],
        INC=[],
    )
    body = client.post("/verify", headers=bearer(token), json={"local_backups": listing}).get_json()
    full, inc = body["verification"]["FULL"], body["verification"]["INC"]
    assert full["mismatched"] == [FULL] and full["missing_remote"] == ["full_local_only.tar.gz"]
    assert inc["extra_remote"] == [INC] and inc["synced"] == []
    assert body["sync_status"] == "OUT_OF_SYNC"
    assert "Missing on remote: FULL/full_local_only.tar.gz" in body["issues"]
    assert any(FULL in issue and "Mismatched" in issue for issue in body["issues"])


@pytest.mark.parametrize(
    "payload", [None, {}, {"local_backups": "x"}, {"local_backups": {"WEEKLY": []}}]
)
def test_verify_refuses_missing_or_malformed_json(client, token, payload):
    if payload is None:
        response = client.post(
            "/verify", headers=bearer(token), data="{not json", content_type="application/json"
        )
    else:
        response = client.post("/verify", headers=bearer(token), json=payload)
    assert response.status_code == 400
    assert response.get_json()["error"]


def test_stats_has_the_seed_shape(client, token, stored):
    body = client.get("/stats", headers=bearer(token)).get_json()
    assert body["status"] == "success" and body["timestamp"].endswith("Z")
    assert body["storage"]["FULL"] == {
        "count": 1,
        "size": len(stored[FULL]),
        "size_human": body["storage"]["FULL"]["size_human"],
    }
    assert body["total"]["files"] == 3 and body["total"]["size"] == sum(map(len, stored.values()))
    assert body["profiles"]["document"]["last_full"]["name"] == FULL
    assert body["oldest"]["name"] == FULL and body["newest"]["name"] == DIFF
    assert body["free_space"] > 0


def test_download_streams_the_archive_with_its_checksums(client, token, stored):
    response = client.get(f"/download/FULL/{FULL}", headers=bearer(token))
    assert response.status_code == 200 and response.data == stored[FULL]
    assert response.headers["ETag"] == f'"{md5(stored[FULL])}"'
    assert base64.b64decode(response.headers["Content-MD5"]).hex() == md5(stored[FULL])
    assert FULL in response.headers["Content-Disposition"]
    part = client.get(f"/download/FULL/{FULL}", headers={**bearer(token), "Range": "bytes=2-9"})
    assert part.status_code == 206 and part.data == stored[FULL][2:10]
    same = client.get(
        f"/download/FULL/{FULL}",
        headers={**bearer(token), "If-None-Match": f'"{md5(stored[FULL])}"'},
    )
    assert same.status_code == 304


def test_download_of_a_missing_archive_is_404_json(client, token, stored):
    response = client.get("/download/FULL/nothing.tar.gz", headers=bearer(token))
    assert response.status_code == 404 and response.get_json()["code"] == "backup_not_found"


def test_only_admins_delete_and_never_in_append_only_mode(make_app, tmp_path):
    from tests.conftest import make_token, make_user

    app = make_app()
    make_user(app, "u@example.com")
    make_user(app, "root@example.com", role="admin")
    user, admin = make_token(app, "u@example.com"), make_token(app, "root@example.com")
    client = app.test_client()
    upload(client, user, make_archive(5), FULL)
    assert client.delete(f"/backups/FULL/{FULL}", headers=bearer(user)).status_code == 403
    # the user's archive is in the user's namespace: the administrator names it
    assert client.delete(f"/backups/FULL/{FULL}", headers=bearer(admin)).status_code == 404
    theirs = f"/backups/FULL/{FULL}?owner=u@example.com"
    assert client.delete(theirs, headers=bearer(admin)).status_code == 204
    assert store_tree(tmp_path / "remote_backups") == {}
    assert client.get("/list", headers=bearer(user)).get_json()["total_count"] == 0

    locked = make_app(backups={"append_only": True, "root": str(tmp_path / "locked")})
    client = locked.test_client()
    upload(client, user, make_archive(6), FULL)
    response = client.delete(f"/backups/FULL/{FULL}", headers=bearer(admin))
    assert response.status_code == 403 and response.get_json()["code"] == "append_only"


def test_root_answers_json_to_scripts(client):
    body = client.get("/", headers={"Accept": "*/*"}).get_json()
    assert {"name", "version", "description", "endpoints"} <= set(body)
    assert "POST /upload" in body["endpoints"]


def test_reindex_rebuilds_the_index_from_sidecars(app, client, token, stored):
    from syncapp.backups.models import BackupArchive
    from syncapp.backups.wiring import archive_store
    from syncapp.extensions import db

    with app.app_context():
        db.session.query(BackupArchive).delete()
        db.session.commit()
        assert archive_store().reindex() == 3
    body = client.get("/list", headers=bearer(token)).get_json()
    assert {b["name"]: b["md5"] for b in body["backups"]["FULL"]} == {FULL: md5(stored[FULL])}
    assert body["backups"]["INC"][0]["profile"] == "document"
