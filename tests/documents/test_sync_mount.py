"""Seed 001's /api/v1/sync against a mounted folder: a real tmpfs stands in for the SMB mount."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from syncapp.documents import nas
from syncapp.documents.models import Document
from syncapp.documents.wiring import auto_sync, nas_sync
from syncapp.extensions import db
from tests.conftest import bearer, make_token, make_user
from tests.documents.helpers import mount_tmpfs, tree, unmount, uploaded

pytestmark = pytest.mark.peer

#: a fixed, whole-second modification time given to stored files, to see it arrive on the NAS
STAMP = datetime(2024, 1, 20, 9, 30, 0, tzinfo=UTC).timestamp()
CONFIG_FIELDS = {
    "configured", "nas_host", "nas_user", "nas_path", "host", "path", "path_exists",
    "path_writable",
}  # fmt: skip


@pytest.fixture
def nas_mount(tmp_path):
    """A 4 MiB tmpfs mounted where the NAS share would be."""
    mount_point = tmp_path / "nas"
    mount_tmpfs(mount_point)
    yield mount_point
    unmount(mount_point)


def app_for(make_app, mount: Path | str | None, **documents):
    options = {"nas_mount_path": str(mount)} if mount is not None else {}
    app = make_app(documents={**options, **documents}, transfer={"attempts": 1})
    make_user(app, "alice@example.com")
    return app, app.test_client(), make_token(app, "alice@example.com")


def stored_file(app, tmp_path, document_id: int) -> Path:
    with app.app_context():
        rel = db.session.get(Document, document_id).stored_path
    return tmp_path / "instance" / "documents" / rel


def stamp_source(app, tmp_path, document_id: int) -> None:
    os.utime(stored_file(app, tmp_path, document_id), (STAMP, STAMP))


def synced_flags(app) -> dict[int, bool]:
    with app.app_context():
        return dict(db.session.query(Document.id, Document.synced_to_nas).all())


def run(client, token):
    return client.post("/api/v1/sync/run", headers=bearer(token))


# --- not configured ------------------------------------------------------------------------------


def test_without_a_nas_every_endpoint_says_so_in_the_seeds_words(make_app):
    _, client, token = app_for(make_app, None)
    doc = uploaded(client, token, b"x", "a.pdf")
    status = client.get("/api/v1/sync/status", headers=bearer(token)).get_json()
    assert status == {
        "total_documents": 1, "synced": 0, "pending": 1, "sync_percentage": 0.0,
        "last_sync": None, "nas_configured": False,
    }  # fmt: skip
    config = client.get("/api/v1/sync/config", headers=bearer(token)).get_json()
    assert set(config) >= CONFIG_FIELDS
    assert config["configured"] is False and config["nas_path"] is False
    assert config["host"] == "SMB Mount"
    test = client.post("/api/v1/sync/test", headers=bearer(token)).get_json()
    assert test == {
        "success": False,
        "message": "NAS mount not configured. Define NAS_MOUNT_PATH and mount the SMB share.",
    }
    response = run(client, token)
    assert response.status_code == 400
    assert response.get_json()["message"] == nas.NOT_CONFIGURED
    response = client.post(f"/api/v1/sync/document/{doc['id']}", headers=bearer(token))
    assert response.status_code == 400 and response.get_json()["success"] is False
    assert client.post("/api/v1/sync/document/999", headers=bearer(token)).status_code == 404


def test_a_missing_mount_path_is_named(make_app, tmp_path):
    missing = tmp_path / "no-such-mount"
    _, client, token = app_for(make_app, missing)
    test = client.post("/api/v1/sync/test", headers=bearer(token)).get_json()
    assert test == {"success": False, "message": f"Mount path does not exist: {missing}"}
    config = client.get("/api/v1/sync/config", headers=bearer(token)).get_json()
    assert config["path"] == str(missing) and config["nas_path"] is True
    assert config["path_exists"] is False and config["configured"] is False
    assert run(client, token).status_code == 400
    assert not missing.exists()


def test_an_unmounted_mount_point_gets_nothing_and_nothing_is_marked_synced(make_app, tmp_path):
    empty_mount_point = tmp_path / "nas"  # a plain folder: the share is not mounted on it
    empty_mount_point.mkdir()
    app, client, token = app_for(make_app, empty_mount_point)
    first = uploaded(client, token, b"invoice", "a.pdf", date="2024-01-15")
    second = uploaded(client, token, b"ticket", "b.jpg", "receipt", sync_now="true")
    assert second["sync"]["success"] is False and second["synced_to_nas"] is False
    config = client.get("/api/v1/sync/config", headers=bearer(token)).get_json()
    assert config["configured"] is False and config["mounted"] is False
    assert config["path_exists"] is True and "not a mount point" in config["message"]
    test = client.post("/api/v1/sync/test", headers=bearer(token)).get_json()
    assert test["success"] is False and "not a mount point" in test["message"]
    response = run(client, token)
    assert response.status_code == 400 and "not a mount point" in response.get_json()["message"]
    response = client.post(f"/api/v1/sync/document/{first['id']}", headers=bearer(token))
    assert response.status_code == 400
    with app.app_context():
        assert auto_sync() is None  # the scheduled run is skipped too
    assert client.get("/api/v1/sync/status", headers=bearer(token)).get_json()["synced"] == 0
    assert tree(empty_mount_point) == {}
    assert set(synced_flags(app).values()) == {False}


# --- a mounted NAS -------------------------------------------------------------------------------


def test_sync_lands_each_type_in_its_year_month_folder_with_bytes_and_mtime(
    make_app, tmp_path, nas_mount
):
    app, client, token = app_for(make_app, nas_mount)
    files = {
        "invoice": (b"%PDF invoice", "facture.pdf", "2024-01-15", "2024/01/invoices/facture.pdf"),
        "receipt": (b"JPEG receipt", "ticket.jpg", "2024-01-03", "2024/01/receipts/ticket.jpg"),
        "payslip": (b"%PDF payslip", "paie.pdf", "2025-12-31", "2025/12/salaries/paie.pdf"),
        "other": (b"notes", "notes.txt", "2026-02-01", "2026/02/others/notes.txt"),
    }
    ids = {}
    for kind, (data, name, day, _) in files.items():
        ids[kind] = uploaded(client, token, data, name, kind, date=day)["id"]
        stamp_source(app, tmp_path, ids[kind])
    test = client.post("/api/v1/sync/test", headers=bearer(token)).get_json()
    assert test == {"success": True, "message": "NAS mount accessible for read/write"}
    assert (nas_mount / nas.MARKER).is_file()
    config = client.get("/api/v1/sync/config", headers=bearer(token)).get_json()
    assert config["configured"] is True and config["mounted"] is True
    assert config["nas_host"] is True and config["nas_user"] is True
    assert config["path_exists"] is True and config["path_writable"] is True

    response = run(client, token)
    assert response.status_code == 200
    assert response.get_json() == {"total": 4, "synced": 4, "failed": 0, "errors": []}
    for kind, (data, _, _, where) in files.items():
        landed = nas_mount / where
        assert landed.read_bytes() == data
        assert landed.stat().st_mtime == STAMP
        document = client.get(f"/api/v1/documents/{ids[kind]}", headers=bearer(token)).get_json()
        assert document["synced_to_nas"] is True and document["nas_path"] == str(landed)
        assert document["synced_at"].endswith("Z")
    status = client.get("/api/v1/sync/status", headers=bearer(token)).get_json()
    assert status["synced"] == 4 and status["pending"] == 0
    assert status["sync_percentage"] == 100.0 and status["nas_configured"] is True
    assert status["last_sync"].endswith("Z")

    before = tree(nas_mount)
    assert run(client, token).get_json() == {"total": 0, "synced": 0, "failed": 0, "errors": []}
    again = client.post(f"/api/v1/sync/document/{ids['invoice']}", headers=bearer(token))
    assert again.get_json() == {
        "success": True, "message": f"Synchronized to {nas_mount}/2024/01/invoices/facture.pdf",
    }  # fmt: skip
    assert tree(nas_mount) == before  # idempotent: nothing rewritten, nothing added


def test_a_marker_makes_a_plain_folder_a_nas_target(make_app, tmp_path):
    folder = tmp_path / "share-subfolder"
    folder.mkdir()
    (folder / nas.MARKER).write_text("put there on the share by the administrator\n")
    app, client, token = app_for(make_app, folder)
    doc = uploaded(client, token, b"scan", "scan.pdf", "other", date="2024-05-05")
    assert client.get("/api/v1/sync/config", headers=bearer(token)).get_json()["configured"]
    assert run(client, token).get_json()["synced"] == 1
    assert (folder / "2024/05/others/scan.pdf").read_bytes() == b"scan"
    assert doc["id"] in synced_flags(app)


def test_french_folder_names(make_app, nas_mount):
    _, client, token = app_for(make_app, nas_mount, nas_folder_names="fr")
    for kind in ("receipt", "invoice", "payslip", "other"):
        uploaded(client, token, kind.encode(), f"{kind}.pdf", kind, date="2024-01-15")
    assert run(client, token).get_json()["synced"] == 4
    folders = {p.name for p in (nas_mount / "2024" / "01").iterdir()}
    assert folders == {"tickets", "factures", "salaires", "autres"}


def test_same_name_documents_both_survive_and_foreign_files_are_never_overwritten(
    make_app, nas_mount
):
    _, client, token = app_for(make_app, nas_mount)
    folder = nas_mount / "2024" / "01" / "invoices"
    folder.mkdir(parents=True)
    (folder / "foreign.pdf").write_bytes(b"someone else's file")
    first = uploaded(client, token, b"first scan", "scan.pdf", date="2024-01-10")
    second = uploaded(client, token, b"second scan", "scan.pdf", date="2024-01-20")
    third = uploaded(client, token, b"mine", "foreign.pdf", date="2024-01-21")
    assert run(client, token).get_json()["synced"] == 3
    assert (folder / "scan.pdf").read_bytes() == b"first scan"
    assert (folder / f"scan-{second['id']}.pdf").read_bytes() == b"second scan"
    assert (folder / "foreign.pdf").read_bytes() == b"someone else's file"
    assert (folder / f"foreign-{third['id']}.pdf").read_bytes() == b"mine"
    paths = {
        d["id"]: d["nas_path"]
        for d in client.get("/api/v1/documents", headers=bearer(token)).get_json()["documents"]
    }
    assert paths[first["id"]] == str(folder / "scan.pdf")
    assert len(set(paths.values())) == 3


def test_an_identical_file_left_by_an_interrupted_run_is_adopted_not_duplicated(
    make_app, nas_mount
):
    app, client, token = app_for(make_app, nas_mount)
    doc = uploaded(client, token, b"copied before the crash", "bill.pdf", date="2024-03-01")
    target = nas_mount / "2024/03/invoices/bill.pdf"
    target.parent.mkdir(parents=True)
    target.write_bytes(b"copied before the crash")
    assert run(client, token).get_json()["synced"] == 1
    assert sorted(p.name for p in target.parent.iterdir()) == ["bill.pdf"]
    assert synced_flags(app)[doc["id"]] is True


def test_a_missing_source_is_reported_while_the_others_sync(make_app, tmp_path, nas_mount):
    app, client, token = app_for(make_app, nas_mount)
    good = uploaded(client, token, b"good", "good.pdf", date="2024-01-15")
    lost = uploaded(client, token, b"lost", "lost.pdf", date="2024-01-15")
    also_good = uploaded(client, token, b"also good", "also.pdf", date="2024-01-15")
    stored_file(app, tmp_path, lost["id"]).unlink()
    body = run(client, token).get_json()
    assert body == {
        "total": 3, "synced": 2, "failed": 1,
        "errors": [f"Document {lost['id']}: Source file not found"],
    }  # fmt: skip
    flags = synced_flags(app)
    assert flags == {good["id"]: True, lost["id"]: False, also_good["id"]: True}
    document = client.get(f"/api/v1/documents/{lost['id']}", headers=bearer(token)).get_json()
    assert document["last_error"] == "Source file not found"
    response = client.post(f"/api/v1/sync/document/{lost['id']}", headers=bearer(token))
    assert response.status_code == 400
    assert response.get_json()["message"] == "Source file not found"
    assert not (nas_mount / "2024/01/invoices/lost.pdf").exists()


def test_a_full_nas_gives_the_disk_space_error_for_that_document(make_app, tmp_path):
    small_nas = tmp_path / "small-nas"
    mount_tmpfs(small_nas, "1m")
    try:
        app, client, token = app_for(make_app, small_nas)
        big = uploaded(client, token, os.urandom(2 * 1024 * 1024), "big.pdf", date="2024-01-15")
        small = uploaded(client, token, b"small", "small.pdf", date="2024-01-15")
        body = run(client, token).get_json()
        assert body["total"] == 2 and body["synced"] == 1 and body["failed"] == 1
        assert body["errors"] == [f"Document {big['id']}: Disk space: NAS full, free up space"]
        assert synced_flags(app) == {big["id"]: False, small["id"]: True}
        assert set(tree(small_nas)) == {"2024/01/invoices/small.pdf"}  # no partial file
        response = client.post(f"/api/v1/sync/document/{big['id']}", headers=bearer(token))
        assert response.status_code == 507
        assert response.get_json()["message"] == "Disk space: NAS full, free up space"
    finally:
        unmount(small_nas)


def test_a_read_only_mount_is_not_writable(make_app, tmp_path):
    read_only = tmp_path / "ro-nas"
    mount_tmpfs(read_only, read_only=True)
    try:
        _, client, token = app_for(make_app, read_only)
        test = client.post("/api/v1/sync/test", headers=bearer(token)).get_json()
        assert test == {"success": False, "message": "Mount is not writable"}
        config = client.get("/api/v1/sync/config", headers=bearer(token)).get_json()
        assert config["path_writable"] is False and config["configured"] is False
        assert run(client, token).status_code == 400
    finally:
        unmount(read_only)


def test_an_unmount_during_a_run_stops_it_without_writing_to_the_local_disk(make_app, tmp_path):
    mount_point = tmp_path / "nas"
    mount_tmpfs(mount_point)
    try:
        app, client, token = app_for(make_app, mount_point)
        ids = [
            uploaded(client, token, b"doc %d" % n, f"d{n}.pdf", date="2024-01-15")["id"]
            for n in range(3)
        ]

        def unmount_after_first(document_id: int, ok: bool) -> None:
            if document_id == ids[0]:
                unmount(mount_point)

        with app.app_context(), nas_sync() as service:
            result = service.run(None, after_each=unmount_after_first)
        assert (result.synced, result.failed) == (1, 2)
        assert result.errors[0].startswith(f"Document {ids[1]}: Mount path is not a mount point")
        assert result.errors[1].startswith(f"Document {ids[2]}: not attempted")
        assert tree(mount_point) == {}  # the bare mount point got nothing
        assert synced_flags(app) == {ids[0]: True, ids[1]: False, ids[2]: False}
    finally:
        unmount(mount_point)


def test_the_auto_sync_job_syncs_everyones_pending_documents(make_app, nas_mount):
    app, client, token = app_for(make_app, nas_mount)
    make_user(app, "bob@example.com")
    bob = make_token(app, "bob@example.com")
    uploaded(client, token, b"alice", "a.pdf", date="2024-01-15")
    uploaded(client, bob, b"bob", "b.pdf", date="2024-01-15")
    with app.app_context():
        result = auto_sync()
    assert (result.total, result.synced) == (2, 2)
    assert set(tree(nas_mount / "2024/01/invoices")) == {"a.pdf", "b.pdf"}


def test_sync_now_on_upload(make_app, nas_mount):
    _, client, token = app_for(make_app, nas_mount)
    body = uploaded(client, token, b"now", "now.pdf", date="2024-07-01", sync_now="on")
    assert body["sync"] == {
        "success": True, "message": f"Synchronized to {nas_mount}/2024/07/invoices/now.pdf",
    }  # fmt: skip
    assert body["synced_to_nas"] is True
    assert (nas_mount / "2024/07/invoices/now.pdf").read_bytes() == b"now"
