"""What the original scripts (seed 003's upload.sh, verify_sync.sh, download.sh) rely on, and
issue 17's backup defects (items 9-14, 20): each test here failed before its fix (the follower's
own tests aside)."""

from __future__ import annotations

import gzip
import io
import json
import os

import pytest

from syncapp.backups.gzipcheck import GzipFollower, IncompleteGzip, check_complete
from syncapp.backups.integrity import wait_idle
from syncapp.backups.models import BackupArchive
from syncapp.extensions import db
from tests.backups.helpers import make_archive, md5, store_tree, upload
from tests.conftest import bearer

NAME = "full_2025-11-28_19-29-39.tar.gz"


@pytest.fixture
def store_root(tmp_path):
    return tmp_path / "remote_backups"


# --- item 10: `error` is readable text ------------------------------------------------------------


def test_errors_of_the_backup_routes_carry_the_sentence_in_error_and_the_code_in_code(
    client, token
):
    upload(client, token, make_archive(1), NAME)
    answers = {
        "archive_exists": upload(client, token, make_archive(2), NAME),
        "invalid_type": upload(client, token, make_archive(3), "full_x.tar.gz", type="WEEKLY"),
        "backup_not_found": client.get("/download/FULL/full_none.tar.gz", headers=bearer(token)),
        "unauthorized": client.get("/list", headers=bearer("sa_" + "x" * 43)),
        "validation_error": client.post("/verify", headers=bearer(token), json={}),
    }
    for code, answer in answers.items():
        body = answer.get_json()
        assert body["code"] == code, body
        # what `jq -r '.error // .message'` prints: a sentence, not a code
        assert body["error"] == body["message"] and " " in body["error"], body


def test_other_routes_keep_error_as_the_code(client, token):
    answer = client.get("/api/v1/syncs/999999", headers=bearer(token))
    assert answer.status_code == 404 and " " not in answer.get_json()["error"]


# --- item 12: /list as the original listed -----------------------------------------------------


def test_list_items_carry_filename_and_a_type_filter_returns_only_its_key(client, token):
    upload(client, token, make_archive(1), NAME, type="FULL")
    upload(client, token, make_archive(2), "inc_1.tar.gz", type="INC")
    body = client.get("/list?type=INC", headers=bearer(token)).get_json()
    assert list(body["backups"]) == ["INC"] and body["total_count"] == 1
    [item] = body["backups"]["INC"]
    assert item["filename"] == item["name"] == "inc_1.tar.gz"
    everything = client.get("/list", headers=bearer(token)).get_json()["backups"]
    assert set(everything) == {"FULL", "INC", "DIFF"}
    assert everything["FULL"][0]["filename"] == NAME
    by_path = client.get("/list/FULL", headers=bearer(token)).get_json()["backups"]
    assert by_path[0]["filename"] == NAME


def test_an_empty_type_is_400_on_upload_and_list(client, token, store_root):
    answer = upload(client, token, make_archive(1), NAME, type="")
    assert answer.status_code == 400 and answer.get_json()["code"] == "invalid_type"
    assert store_tree(store_root) == {}
    assert client.get("/list?type=", headers=bearer(token)).status_code == 400
    # absent is FULL, as the original's request.form.get("type", "FULL")
    assert upload(client, token, make_archive(1), NAME).get_json()["type"] == "FULL"


class CountingBody(io.BytesIO):
    """A request body that remembers how far the server read into it."""

    consumed = 0

    def _note(self, result):
        self.consumed = max(self.consumed, self.tell())
        return result

    def read(self, size=-1):
        return self._note(super().read(size))

    def read1(self, size=-1):
        return self._note(super().read1(size))

    def readinto(self, buffer):
        return self._note(super().readinto(buffer))

    def readline(self, size=-1):
        return self._note(super().readline(size))


def test_an_invalid_type_before_the_file_is_refused_before_the_file_is_read(client, token):
    boundary = "b0undary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="type"\r\n\r\nWEEKLY\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{NAME}"\r\n'
        "Content-Type: application/gzip\r\n\r\n"
    ).encode()
    data = head + gzip.compress(os.urandom(8 * 1024 * 1024)) + f"\r\n--{boundary}--\r\n".encode()
    body = CountingBody(data)
    answer = client.post(
        "/upload",
        headers=bearer(token),
        input_stream=body,
        content_type=f"multipart/form-data; boundary={boundary}",
    )
    assert answer.status_code == 400 and answer.get_json()["code"] == "invalid_type"
    assert body.consumed < len(data) // 4, f"read {body.consumed} of {len(data)} bytes"


# --- items 14 and 20: names unique per owner, type and profile ---------------------------------


def test_two_hosts_same_second_name_under_two_profiles_are_both_stored(client, token, store_root):
    first, second = make_archive(1), make_archive(2)
    one = upload(client, token, first, NAME, profile="host-a")
    two = upload(client, token, second, NAME, profile="host-b")
    assert (one.status_code, two.status_code) == (201, 201)
    assert two.get_json()["already_stored"] is False and two.get_json()["profile"] == "host-b"
    assert one.get_json()["path"] != two.get_json()["path"]
    tree = store_tree(store_root)
    assert tree[one.get_json()["path"]] == first and tree[two.get_json()["path"]] == second
    listed = client.get("/list?type=FULL", headers=bearer(token)).get_json()["backups"]["FULL"]
    assert sorted((i["profile"], i["md5"]) for i in listed) == [
        ("host-a", md5(first)),
        ("host-b", md5(second)),
    ]
    # each profile's own re-upload is "already stored", the other's bytes there a conflict
    again = upload(client, token, second, NAME, profile="host-b")
    assert again.status_code == 201 and again.get_json()["already_stored"] is True
    assert upload(client, token, first, NAME, profile="host-b").status_code == 409
    ambiguous = client.get(f"/download/FULL/{NAME}", headers=bearer(token))
    assert ambiguous.status_code == 409 and ambiguous.get_json()["code"] == "ambiguous_archive"
    chosen = client.get(f"/download/FULL/{NAME}?profile=host-a", headers=bearer(token))
    assert chosen.data == first
    local = {"FULL": [{"name": NAME, "size": len(second), "md5": md5(second)}]}
    verified = client.post("/verify", headers=bearer(token), json={"local_backups": local})
    assert verified.get_json()["verification"]["FULL"]["synced"] == [NAME]


def test_reindex_keeps_both_profiles_archives_of_one_name(app, client, token):
    from syncapp.backups.wiring import archive_store

    upload(client, token, make_archive(1), NAME, profile="host-a")
    upload(client, token, make_archive(2), NAME, profile="host-b")
    with app.app_context():
        db.session.query(BackupArchive).delete()
        db.session.commit()
        assert archive_store().reindex() == 2
        kept = {a.profile for a in db.session.query(BackupArchive)}
    assert kept == {"host-a", "host-b"}


# --- item 11: archives only on the server ---------------------------------------------------------


def test_verify_is_out_of_sync_when_the_server_holds_more_unless_the_client_prunes(client, token):
    kept, pruned = make_archive(1), make_archive(2)
    upload(client, token, kept, NAME)
    upload(client, token, pruned, "full_old.tar.gz")
    local = {"FULL": [{"name": NAME, "size": len(kept), "md5": md5(kept)}]}
    default = client.post("/verify", headers=bearer(token), json={"local_backups": local})
    body = default.get_json()
    assert body["sync_status"] == "OUT_OF_SYNC" and body["local_in_sync"] is True
    assert body["verification"]["FULL"]["extra_remote"] == ["full_old.tar.gz"]
    assert "Only on remote (not in the local folder): FULL/full_old.tar.gz" in body["issues"]
    pruning = client.post(
        "/verify", headers=bearer(token), json={"local_backups": local, "extra_remote": "ignore"}
    ).get_json()
    assert pruning["sync_status"] == "SYNCHRONIZED" and pruning["issues"] == []
    assert pruning["verification"]["FULL"]["extra_remote"] == ["full_old.tar.gz"]
    wrong = {"local_backups": local, "extra_remote": "maybe"}
    assert client.post("/verify", headers=bearer(token), json=wrong).status_code == 400


# --- item 13: only complete gzip streams count as stored ----------------------------------------


def integrity_of(client, token) -> dict[str, str]:
    listed = client.get("/list", headers=bearer(token)).get_json()["backups"]
    return {item["name"]: item["integrity"] for items in listed.values() for item in items}


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda data: data[:-4], id="trailer-cut"),
        pytest.param(lambda data: data[: len(data) // 2], id="half"),
        pytest.param(lambda data: data[:-8] + b"\0\0\0\0" + data[-4:], id="bad-crc"),
        pytest.param(lambda data: data + b"not gzip", id="trailing-garbage"),
    ],
)
def test_a_truncated_or_corrupt_archive_is_flagged_and_never_in_sync(
    client, token, store_root, damage
):
    """Checked right after the reply (the check while receiving cost 2.2-3.3 times the upload's
    time, docs/benchmarks.md): "unverified" until then, "corrupt" after, and never in sync."""
    damaged = damage(gzip.compress(os.urandom(200_000)))
    answer = upload(client, token, damaged, NAME)
    assert answer.status_code == 201 and answer.get_json()["integrity"] == "unverified"
    wait_idle()
    assert integrity_of(client, token) == {NAME: "corrupt"}
    local = {"FULL": [{"name": NAME, "size": len(damaged), "md5": md5(damaged)}]}
    body = client.post("/verify", headers=bearer(token), json={"local_backups": local}).get_json()
    assert body["sync_status"] == "OUT_OF_SYNC" and body["local_in_sync"] is False
    full = body["verification"]["FULL"]
    assert full["synced"] == [] and full["corrupt"] == [NAME]
    assert f"Corrupt on remote (not a complete gzip stream): FULL/{NAME}" in body["issues"]
    # The same bytes again: refused with the reason, in words (the original prints `.error`).
    again = upload(client, token, damaged, NAME)
    assert again.status_code == 400 and again.get_json()["code"] == "incomplete_gzip"
    assert "not a complete gzip stream" in again.get_json()["error"]
    # The archive made again, whole: it replaces the damaged copy.
    whole = make_archive(5)
    replaced = upload(client, token, whole, NAME)
    assert replaced.status_code == 201 and replaced.get_json()["already_stored"] is False
    wait_idle()
    assert integrity_of(client, token) == {NAME: "verified"}
    assert store_tree(store_root)[replaced.get_json()["path"]] == whole


def test_several_members_and_zero_padding_are_complete(client, token):
    data = gzip.compress(b"one") + gzip.compress(b"two") + b"\0" * 512
    assert upload(client, token, data, NAME).status_code == 201
    wait_idle()
    assert integrity_of(client, token) == {NAME: "verified"}


def test_verify_finishes_a_pending_check_itself(app, client, token):
    """An archive still "unverified" when /verify comes (its check queued behind others, or
    interrupted by a restart) is checked by /verify before the verdict."""
    good = make_archive(1)
    upload(client, token, good, NAME)
    wait_idle()
    with app.app_context():
        db.session.query(BackupArchive).update({"integrity": "unverified"})
        db.session.commit()
    local = {"FULL": [{"name": NAME, "size": len(good), "md5": md5(good)}]}
    body = client.post("/verify", headers=bearer(token), json={"local_backups": local}).get_json()
    assert body["sync_status"] == "SYNCHRONIZED"
    assert integrity_of(client, token) == {NAME: "verified"}


def test_verify_checks_an_archive_stored_before_the_check_and_flags_it_corrupt(
    app, client, token, store_root
):
    """An archive indexed without a check (stored by an older syncapp, or reindexed from a
    sidecar that does not say) is checked by the next /verify, once, and a cut-off one is
    reported corrupt and out of sync."""
    from syncapp.backups.wiring import archive_store

    good, cut = make_archive(1), gzip.compress(os.urandom(50_000))
    upload(client, token, good, "full_good.tar.gz")
    path = upload(client, token, cut, NAME).get_json()["path"]
    wait_idle()
    (store_root / path).write_bytes(cut[:-100])  # damaged on disk after it was stored
    for sidecar in store_root.rglob("*.meta.json"):
        recorded = json.loads(sidecar.read_text())
        recorded.pop("integrity", None)  # a sidecar of before the check
        if sidecar.name.startswith(NAME):
            recorded["size"] = len(cut) - 100
        sidecar.write_text(json.dumps(recorded))
    with app.app_context():
        db.session.query(BackupArchive).delete()
        db.session.commit()
        archive_store().reindex()
        assert {a.integrity for a in db.session.query(BackupArchive)} == {"unverified"}
    local = {
        "FULL": [
            {"name": "full_good.tar.gz", "size": len(good), "md5": md5(good)},
            {"name": NAME, "size": len(cut) - 100, "md5": md5(cut[:-100])},
        ]
    }
    body = client.post("/verify", headers=bearer(token), json={"local_backups": local}).get_json()
    assert body["sync_status"] == "OUT_OF_SYNC" and body["local_in_sync"] is False
    full = body["verification"]["FULL"]
    assert full["synced"] == ["full_good.tar.gz"] and full["corrupt"] == [NAME]
    assert f"Corrupt on remote (not a complete gzip stream): FULL/{NAME}" in body["issues"]
    listed = client.get("/list/FULL", headers=bearer(token)).get_json()["backups"]
    assert {i["name"]: i["integrity"] for i in listed} == {
        "full_good.tar.gz": "verified",
        NAME: "corrupt",
    }
    sidecar = json.loads((store_root / f"{path}.meta.json").read_text())
    assert sidecar["integrity"] == "corrupt"  # a later reindex keeps the verdict


@pytest.mark.parametrize("step", [1, 7, 4096, 1 << 20])
def test_the_follower_judges_alike_whatever_the_chunk_sizes(step):
    whole = gzip.compress(os.urandom(3000) + b"a" * 300_000)

    def judge(data: bytes) -> bool:
        try:
            check_complete(data[i : i + step] for i in range(0, len(data), step))
        except IncompleteGzip:
            return False
        return True

    assert judge(whole) and judge(whole + gzip.compress(b"x")) and judge(whole + b"\0" * 9)
    assert not judge(whole[:-1]) and not judge(whole[:10]) and not judge(whole + b"\0x")


def test_a_gzip_bomb_is_followed_in_bounded_steps():
    follower = GzipFollower()
    bomb = gzip.compress(b"\0" * (256 * 1024 * 1024), compresslevel=9)  # ~250 KiB
    follower.feed(bomb)
    follower.finish()


def test_the_check_command_checks_unverified_archives_and_names_the_corrupt(
    app, client, token, store_root
):
    good, bad = make_archive(1), gzip.compress(os.urandom(20_000))
    upload(client, token, good, "full_good.tar.gz")
    path = upload(client, token, bad, NAME).get_json()["path"]
    wait_idle()
    (store_root / path).write_bytes(bad[:-10])
    with app.app_context():
        db.session.query(BackupArchive).update({"integrity": "unverified"})
        db.session.commit()
    result = app.test_cli_runner().invoke(args=["backups", "check"])
    assert result.exit_code == 1 and f"corrupt: {path}" in result.output
    assert "2 archive(s), 1 corrupt" in result.output
    with app.app_context():
        states = {a.name: a.integrity for a in db.session.query(BackupArchive)}
    assert states == {"full_good.tar.gz": "verified", NAME: "corrupt"}
