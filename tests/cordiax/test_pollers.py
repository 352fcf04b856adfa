"""Share pollers: a Cordiax client in WebDAV/SMB mode overwrites a file; a poller imports it.

The peer tests run against the real WsgiDAV and Samba servers of tests/peers; the rest use a
local folder as the share (a `local` stored remote: a share mounted on the server).
"""

from __future__ import annotations

import io
import shutil
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from syncapp.cordiax.background import pollers as run_pollers_job
from syncapp.cordiax.background import retention as run_retention_job
from syncapp.cordiax.models import CordiaxPoller
from syncapp.cordiax.pollers import (
    BEING_WRITTEN,
    default_device,
    poll,
)
from syncapp.cordiax.wiring import run_due_pollers, snapshot_store
from syncapp.extensions import db
from syncapp.scheduler import build_scheduler
from syncapp.storage import Remote, open_remote
from syncapp.storage.local import LocalRemote
from syncapp.timeutil import utcnow
from tests.conftest import bearer, make_token, make_user
from tests.cordiax.payloads import cordiax_bundle, encrypted_database, sha256
from tests.peers.process import free_port

API = "/api/v1/cordiax/pollers"
FILE = "cordiax_sync/cordiax_sync.zip"
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def create_remote(client, admin_token, kind: str, settings: dict, grants=()) -> int:
    body = {"name": f"share-{uuid.uuid4().hex[:8]}", "kind": kind, "settings": settings}
    if grants:  # users a poller of whom may read it
        body["grants"] = [{"user_id": user_id, "feature": "cordiax"} for user_id in grants]
    response = client.post("/api/v1/remotes", headers=bearer(admin_token), json=body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def create_poller(client, admin_token, remote_id: int, **fields) -> dict:
    body = {"name": "Office PC", "remote_id": remote_id, **fields}
    response = client.post(API, headers=bearer(admin_token), json=body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def run(client, raw_token: str, poller_id: int) -> dict:
    response = client.post(f"{API}/{poller_id}/run", headers=bearer(raw_token))
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def put_file(remote: Remote, data: bytes, modified: datetime, path: str = FILE) -> None:
    remote.write(path, io.BytesIO(data), size=len(data), modified=modified)


def snapshot_shas(client, raw_token: str, device: str) -> list[str]:
    response = client.get(f"/api/v1/cordiax/devices/{device}/snapshots", headers=bearer(raw_token))
    if response.status_code == 404:
        return []
    return [s["sha256"] for s in response.get_json()]


# --- real WebDAV and Samba shares ----------------------------------------------------------------


@pytest.fixture(params=["webdav", "smb"])
def share(request):
    """(peer, stored-remote settings, a Remote on the same folder to play the Cordiax client)."""
    peer = request.getfixturevalue(f"{request.param}_server")
    folder = f"cordiax-{uuid.uuid4().hex[:12]}"
    if peer.kind == "smb":
        (peer.share_root / folder).mkdir()
    settings = {**peer.settings, "remote_path": folder}
    client_side = open_remote(peer.kind, **settings)
    try:
        yield peer, settings, client_side
    finally:
        client_side.close()
        on_disk = getattr(peer, "share_root", None) or getattr(peer, "root", None)
        if on_disk is not None:
            shutil.rmtree(on_disk / folder, ignore_errors=True)


@pytest.mark.peer
def test_a_changed_file_is_imported_once(client, admin_token, share):
    peer, settings, cordiax = share
    remote_id = create_remote(client, admin_token, peer.kind, settings)
    poller = create_poller(client, admin_token, remote_id)
    assert poller["device"] == "Office-PC"
    assert (poller["path"], poller["filename"]) == ("cordiax_sync", "cordiax_sync.zip")

    assert run(client, admin_token, poller["id"])["last_result"] == "no file yet"

    first = cordiax_bundle(seed=1)
    put_file(cordiax, first, T0)
    done = run(client, admin_token, poller["id"])
    assert done["last_result"].startswith("imported "), done
    assert done["last_error"] is None and done["last_sha256"] == sha256(first)
    assert snapshot_shas(client, admin_token, "Office-PC") == [sha256(first)]

    assert run(client, admin_token, poller["id"])["last_result"] == "unchanged"
    assert len(snapshot_shas(client, admin_token, "Office-PC")) == 1

    second = cordiax_bundle(seed=2)
    put_file(cordiax, second, T0 + timedelta(minutes=5))
    assert run(client, admin_token, poller["id"])["last_result"].startswith("imported ")
    assert snapshot_shas(client, admin_token, "Office-PC") == [sha256(second), sha256(first)]

    # The client rewrites identical bytes: new mtime, same content, no new version.
    put_file(cordiax, second, T0 + timedelta(minutes=10))
    assert run(client, admin_token, poller["id"])["last_result"] == "unchanged content"
    assert len(snapshot_shas(client, admin_token, "Office-PC")) == 2


@pytest.mark.peer
def test_a_poller_records_a_down_server_and_recovers(client, admin_token, share):
    peer, settings, cordiax = share
    remote_id = create_remote(client, admin_token, peer.kind, settings)
    poller = create_poller(client, admin_token, remote_id, device="laptop")
    data = encrypted_database(5000, seed=7)
    put_file(cordiax, data, T0)
    peer.process.stop()
    try:
        failed = run(client, admin_token, poller["id"])
        assert failed["last_result"] == "error"
        assert failed["last_error"]
        assert snapshot_shas(client, admin_token, "laptop") == []
        check = client.post(f"{API}/{poller['id']}/test", headers=bearer(admin_token)).get_json()
        assert check["success"] is False and check["message"]
    finally:
        peer.process.start()
    recovered = run(client, admin_token, poller["id"])
    assert recovered["last_result"].startswith("imported "), recovered
    assert recovered["last_error"] is None
    assert snapshot_shas(client, admin_token, "laptop") == [sha256(data)]


@pytest.mark.peer
def test_the_connection_test_finds_the_file(client, admin_token, share):
    peer, settings, cordiax = share
    remote_id = create_remote(client, admin_token, peer.kind, settings)
    poller = create_poller(client, admin_token, remote_id, filename="cordiax_sync.db")
    reply = client.post(f"{API}/{poller['id']}/test", headers=bearer(admin_token)).get_json()
    assert reply["success"] is True and "no cordiax_sync/cordiax_sync.db yet" in reply["message"]
    put_file(cordiax, encrypted_database(2000), T0, path="cordiax_sync/cordiax_sync.db")
    reply = client.post(f"{API}/{poller['id']}/test", headers=bearer(admin_token)).get_json()
    assert reply["success"] is True and "found cordiax_sync/cordiax_sync.db" in reply["message"]


# --- the API, on a local folder ---------------------------------------------------------------


@pytest.fixture
def folder(tmp_path):
    root = tmp_path / "share"
    root.mkdir()
    return root


@pytest.fixture
def people(app, folder):
    make_user(app, "root@example.com", role="admin")
    alice = make_user(app, "alice@example.com")
    make_user(app, "bob@example.com")
    return {
        "admin": make_token(app, "root@example.com"),
        "alice": make_token(app, "alice@example.com"),
        "alice_id": alice,
        "bob": make_token(app, "bob@example.com"),
    }


@pytest.fixture
def local_remote_id(client, people, folder) -> int:
    return create_remote(
        client, people["admin"], "local", {"root": str(folder)}, grants=[people["alice_id"]]
    )


def test_the_interval_is_at_least_60_seconds(client, people, local_remote_id):
    body = {"name": "pc", "remote_id": local_remote_id, "interval": 59}
    response = client.post(API, headers=bearer(people["admin"]), json=body)
    assert response.status_code == 400
    assert "interval" in response.get_json()["message"]
    poller = create_poller(client, people["admin"], local_remote_id, interval=60)
    response = client.patch(
        f"{API}/{poller['id']}", headers=bearer(people["admin"]), json={"interval": 30}
    )
    assert response.status_code == 400


def test_defaults_and_the_clients_folder_spelling(client, people, local_remote_id):
    poller = create_poller(client, people["admin"], local_remote_id, path="/cordiax_sync/")
    assert poller["path"] == "cordiax_sync"
    assert poller["filename"] == "cordiax_sync.zip"
    assert poller["interval"] == 300 and poller["enabled"] is True
    assert poller["last_run"] is None and poller["last_result"] is None
    assert default_device("Büro PC #2 ") == "B-ro-PC-2"
    assert default_device("###") == "poller"


def test_only_webdav_smb_or_local_remotes_are_accepted(client, people):
    s3 = create_remote(client, people["admin"], "s3", {"bucket": "b"})
    response = client.post(
        API, headers=bearer(people["admin"]), json={"name": "x", "remote_id": s3}
    )
    assert response.status_code == 400
    assert "s3" in response.get_json()["message"]
    missing = client.post(
        API, headers=bearer(people["admin"]), json={"name": "x", "remote_id": 999}
    )
    assert missing.status_code == 400


@pytest.mark.parametrize(
    "field, value",
    [
        ("device", "office-pc\n"),  # `$` in a pattern lets a final newline through
        ("device", "office-pc/../other"),  # an unanchored pattern, any tail
        ("filename", "cordiax_sync.zip\n"),
        ("filename", "cordiax\tsync.zip"),
    ],
)
def test_a_device_or_file_name_must_match_whole(client, people, local_remote_id, field, value):
    body = {"name": "x", "remote_id": local_remote_id, field: value}
    answer = client.post(API, headers=bearer(people["admin"]), json=body)
    assert answer.status_code == 400, answer.get_json()
    assert field in answer.get_json()["errors"]
    assert client.get(API, headers=bearer(people["admin"])).get_json() == []


def test_a_path_leaving_the_remote_is_refused(client, people, local_remote_id):
    body = {"name": "x", "remote_id": local_remote_id, "path": "cordiax/../../etc"}
    assert client.post(API, headers=bearer(people["admin"]), json=body).status_code == 400


def test_users_see_and_change_only_their_own_pollers(client, people, local_remote_id):
    mine = create_poller(client, people["admin"], local_remote_id, user_id=people["alice_id"])
    assert mine["user_id"] == people["alice_id"]
    url = f"{API}/{mine['id']}"
    alice, bob, admin = bearer(people["alice"]), bearer(people["bob"]), bearer(people["admin"])

    assert [p["id"] for p in client.get(API, headers=alice).get_json()] == [mine["id"]]
    assert client.get(API, headers=bob).get_json() == []
    assert [p["id"] for p in client.get(API, headers=admin).get_json()] == [mine["id"]]

    assert client.get(url, headers=bob).status_code == 404
    assert client.patch(url, headers=bob, json={"enabled": False}).status_code == 404
    assert client.post(f"{url}/run", headers=bob).status_code == 404
    assert client.post(f"{url}/test", headers=bob).status_code == 404
    assert client.delete(url, headers=bob).status_code == 404

    changed = client.patch(url, headers=alice, json={"interval": 600, "enabled": False})
    assert changed.status_code == 200 and changed.get_json()["interval"] == 600
    assert client.post(f"{url}/run", headers=alice).status_code == 200
    assert client.delete(url, headers=alice).status_code == 204
    assert client.get(url, headers=admin).status_code == 404


def test_only_administrators_choose_where_a_poller_reads(client, people, local_remote_id):
    body = {"name": "x", "remote_id": local_remote_id}
    assert client.post(API, headers=bearer(people["alice"]), json=body).status_code == 403
    mine = create_poller(client, people["admin"], local_remote_id, user_id=people["alice_id"])
    response = client.patch(
        f"{API}/{mine['id']}", headers=bearer(people["alice"]), json={"path": "elsewhere"}
    )
    assert response.status_code == 403
    assert (
        client.get(f"{API}/{mine['id']}", headers=bearer(people["alice"])).get_json()["path"]
        == "cordiax_sync"
    )


def test_imports_belong_to_the_pollers_owner(client, people, local_remote_id, folder):
    poller = create_poller(
        client, people["admin"], local_remote_id, user_id=people["alice_id"], device="alice-pc"
    )
    data = encrypted_database(3000, seed=3)
    (folder / "cordiax_sync").mkdir()
    (folder / FILE).write_bytes(data)
    assert run(client, people["alice"], poller["id"])["last_result"].startswith("imported ")
    assert snapshot_shas(client, people["alice"], "alice-pc") == [sha256(data)]
    assert snapshot_shas(client, people["bob"], "alice-pc") == []


def test_a_file_over_the_size_limit_is_refused_clearly(make_app, tmp_path):
    app = make_app(cordiax={"max_snapshot_size": 1000})
    client = app.test_client()
    make_user(app, "root@example.com", role="admin")
    admin = make_token(app, "root@example.com")
    share = tmp_path / "big"
    (share / "cordiax_sync").mkdir(parents=True)
    (share / FILE).write_bytes(encrypted_database(2000))
    remote_id = create_remote(client, admin, "local", {"root": str(share)})
    done = run(client, admin, create_poller(client, admin, remote_id)["id"])
    assert done["last_result"] == "error"
    assert "max_snapshot_size" in done["last_error"] and "2000 bytes" in done["last_error"]


def test_a_refused_file_is_an_error_not_an_exception(client, people, local_remote_id, folder):
    poller = create_poller(client, people["admin"], local_remote_id)
    (folder / "cordiax_sync").mkdir()
    (folder / FILE).write_bytes(b"")
    done = run(client, people["admin"], poller["id"])
    assert done["last_result"] == "error" and "empty" in done["last_error"]


def test_a_connection_test_on_an_unreachable_server_fails(client, people):
    settings = {
        "url": f"http://127.0.0.1:{free_port()}/dav",
        "username": "u",
        "password": "p",
        "timeout": 5,
    }
    remote_id = create_remote(client, people["admin"], "webdav", settings)
    poller = create_poller(client, people["admin"], remote_id)
    reply = client.post(f"{API}/{poller['id']}/test", headers=bearer(people["admin"])).get_json()
    # the poller's owner reads these: the remote is named, where it is stays the admin's
    assert reply["success"] is False and "did not answer" in reply["message"]
    assert "127.0.0.1" not in reply["message"]
    done = run(client, people["admin"], poller["id"])
    assert done["last_result"] == "error" and done["last_error"]
    assert "127.0.0.1" not in done["last_error"]


class GrowingFileRemote(LocalRemote):
    """A local share on which the client appends to the file while the poller reads it."""

    def open_read(self, path: str):
        reader = super().open_read(path)
        with open(self.local_path(path), "ab") as handle:
            # more of the token (base64 like the rest: a valid Cordiax file, only longer)
            handle.write(b"moreBytesFromTheWriter")
        return reader


def test_a_file_growing_during_the_read_is_left_for_the_next_poll(app, people, folder):
    (folder / "cordiax_sync").mkdir()
    (folder / FILE).write_bytes(encrypted_database(4000))
    with app.app_context():
        remote_id = create_remote(
            app.test_client(), people["admin"], "local", {"root": str(folder / "unused")}
        )
        poller = CordiaxPoller(
            user_id=people["alice_id"], name="pc", remote_id=remote_id, device="pc"
        )
        db.session.add(poller)
        db.session.commit()
        store = snapshot_store()
        poll(
            poller,
            open_source=lambda: GrowingFileRemote(root=str(folder)),
            open_store=lambda: store,
            session=db.session,
        )
        assert poller.last_result == BEING_WRITTEN and poller.last_error is None
        assert store.versions(people["alice_id"], "pc") == []
        poll(
            poller,
            open_source=lambda: LocalRemote(root=str(folder)),
            open_store=lambda: store,
            session=db.session,
        )
        assert poller.last_result.startswith("imported ")
        assert len(store.versions(people["alice_id"], "pc")) == 1


# --- scheduler jobs ---------------------------------------------------------------------------


def test_the_job_polls_only_the_pollers_that_are_due(app, client, people, local_remote_id):
    due = create_poller(client, people["admin"], local_remote_id, name="due", interval=60)
    recent = create_poller(client, people["admin"], local_remote_id, name="recent", interval=300)
    off = create_poller(client, people["admin"], local_remote_id, name="off", enabled=False)
    with app.app_context():
        now = utcnow()
        db.session.get(CordiaxPoller, due["id"]).last_run = now - timedelta(seconds=61)
        db.session.get(CordiaxPoller, recent["id"]).last_run = now - timedelta(seconds=100)
        db.session.commit()
        assert run_due_pollers(now) == [due["id"]]
        assert db.session.get(CordiaxPoller, due["id"]).last_result == "no file yet"
        assert db.session.get(CordiaxPoller, recent["id"]).last_result is None
        assert db.session.get(CordiaxPoller, off["id"]).last_run is None
        # the scheduled job itself: nothing is due right after the run above
        assert run_pollers_job() == []


def test_the_retention_job_applies_the_settings(make_app):
    app = make_app(cordiax={"keep_last": 2, "keep_daily_days": 0})
    owner = make_user(app, "alice@example.com")
    with app.app_context():
        store = snapshot_store()
        for seed in range(4):
            store.store(owner, "pc", encrypted_database(1000, seed=seed))
        removed = run_retention_job()
        assert len(removed) == 2
        assert [s.sha256 for s in store.versions(owner, "pc")] == [
            sha256(encrypted_database(1000, seed=3)),
            sha256(encrypted_database(1000, seed=2)),
        ]


def test_the_cordiax_jobs_follow_their_intervals(make_app):
    app = make_app(cordiax={"poll_check_interval": 45, "retention_interval": 900})
    jobs = {job.id: job for job in build_scheduler(app).get_jobs()}
    assert jobs["cordiax.pollers"].trigger.interval.total_seconds() == 45
    assert jobs["cordiax.retention"].trigger.interval.total_seconds() == 900
