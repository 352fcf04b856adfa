"""NAS sync straight to a real Samba share (NAS_REMOTE: a stored smb remote, no mount)."""

from __future__ import annotations

import os
import shutil
import uuid
from datetime import UTC, datetime

import pytest

from syncapp.documents.models import Document
from syncapp.documents.wiring import nas_sync
from syncapp.extensions import db
from syncapp.storage import RemoteUnavailable, open_remote
from tests.conftest import bearer, make_token, make_user
from tests.documents.helpers import uploaded
from tests.peers.process import wait_until

pytestmark = pytest.mark.peer

STAMP = datetime(2024, 2, 10, 8, 15, 0, tzinfo=UTC).timestamp()


def server_answers(smb_server) -> bool:
    remote = open_remote("smb", **smb_server.settings)
    try:
        remote.stat("anything")
        return True
    except RemoteUnavailable:
        return False
    finally:
        remote.close()


def ensure_running(smb_server) -> None:
    if not smb_server.process.running:
        smb_server.process.start()
    wait_until(lambda: server_answers(smb_server), timeout=30, what="smbd to answer SMB")


@pytest.fixture
def nas_share(smb_server):
    """A fresh folder of the Samba share; yields (folder name, its path on smbd's disk)."""
    folder = f"nas-{uuid.uuid4().hex[:12]}"
    on_disk = smb_server.share_root / folder
    on_disk.mkdir()
    yield folder, on_disk
    shutil.rmtree(on_disk, ignore_errors=True)


@pytest.fixture
def smb_app(make_app, smb_server, nas_share):
    """An app whose NAS is a stored smb remote named "nas", created over the API by an admin."""
    app = make_app(documents={"nas_remote": "nas"}, transfer={"attempts": 1})
    make_user(app, "root@example.com", role="admin")
    make_user(app, "alice@example.com")
    client = app.test_client()
    settings = {**smb_server.settings, "remote_path": nas_share[0]}
    response = client.post(
        "/api/v1/remotes",
        headers=bearer(make_token(app, "root@example.com")),
        json={"name": "nas", "kind": "smb", "settings": settings},
    )
    assert response.status_code == 201, response.get_json()
    return app, client, make_token(app, "alice@example.com")


def stamp_source(app, document_id: int) -> None:
    with app.app_context():
        rel = db.session.get(Document, document_id).stored_path
    os.utime(os.path.join(app.instance_path, "documents", rel), (STAMP, STAMP))


def pending_ids(app) -> set[int]:
    with app.app_context():
        return {d.id for d in db.session.query(Document).filter_by(synced_to_nas=False)}


def test_sync_to_a_samba_share_keeps_bytes_folders_and_mtime(smb_app, smb_server, nas_share):
    app, client, token = smb_app
    _, on_disk = nas_share
    invoice = uploaded(client, token, b"%PDF smb invoice", "facture.pdf", date="2024-02-10")
    receipt = uploaded(
        client, token, b"JPEG smb receipt", "ticket.jpg", "receipt", date="2023-11-05"
    )
    for doc in (invoice, receipt):
        stamp_source(app, doc["id"])
    test = client.post("/api/v1/sync/test", headers=bearer(token)).get_json()
    assert test == {"success": True, "message": "NAS mount accessible for read/write"}
    config = client.get("/api/v1/sync/config", headers=bearer(token)).get_json()
    assert config["configured"] is True and config["host"] == "SMB remote"
    assert client.post("/api/v1/sync/run", headers=bearer(token)).get_json() == {
        "total": 2, "synced": 2, "failed": 0, "errors": [],
    }  # fmt: skip
    landed = on_disk / "2024/02/invoices/facture.pdf"
    assert landed.read_bytes() == b"%PDF smb invoice"
    assert (on_disk / "2023/11/receipts/ticket.jpg").read_bytes() == b"JPEG smb receipt"
    assert landed.stat().st_mtime == STAMP  # smbd set it from the SMB write's last-write time
    share = open_remote("smb", **smb_server.settings, remote_path=nas_share[0])
    try:
        assert share.stat("2024/02/invoices/facture.pdf").modified.timestamp() == STAMP
    finally:
        share.close()
    document = client.get(f"/api/v1/documents/{invoice['id']}", headers=bearer(token)).get_json()
    assert document["nas_path"] == "nas:2024/02/invoices/facture.pdf"
    response = client.post(f"/api/v1/sync/document/{invoice['id']}", headers=bearer(token))
    assert response.get_json() == {
        "success": True, "message": "Synchronized to nas:2024/02/invoices/facture.pdf",
    }  # fmt: skip


def test_same_names_on_the_share_both_survive(smb_app, nas_share):
    app, client, token = smb_app
    _, on_disk = nas_share
    first = uploaded(client, token, b"one", "scan.pdf", date="2024-01-02")
    second = uploaded(client, token, b"two", "scan.pdf", date="2024-01-03")
    assert client.post("/api/v1/sync/run", headers=bearer(token)).get_json()["synced"] == 2
    folder = on_disk / "2024/01/invoices"
    assert (folder / "scan.pdf").read_bytes() == b"one"
    assert (folder / f"scan-{second['id']}.pdf").read_bytes() == b"two"
    assert first["id"] not in pending_ids(app)


def test_a_nas_that_goes_down_mid_run_leaves_the_rest_pending_for_the_next_run(
    smb_app, smb_server, nas_share
):
    app, client, token = smb_app
    _, on_disk = nas_share
    ids = [
        uploaded(client, token, b"doc %d" % n, f"d{n}.pdf", date="2024-04-01")["id"]
        for n in range(3)
    ]

    def stop_after_first(document_id: int, ok: bool) -> None:
        if document_id == ids[0]:
            smb_server.process.stop()

    try:
        with app.app_context(), nas_sync() as service:
            result = service.run(None, after_each=stop_after_first)
    finally:
        ensure_running(smb_server)
    assert (result.total, result.synced, result.failed) == (3, 1, 2)
    assert "NAS unavailable" in result.errors[0]
    assert pending_ids(app) == set(ids[1:])
    status = client.get("/api/v1/sync/status", headers=bearer(token)).get_json()
    assert status["pending"] == 2 and status["sync_percentage"] == 33.3

    body = client.post("/api/v1/sync/run", headers=bearer(token)).get_json()
    assert body == {"total": 2, "synced": 2, "failed": 0, "errors": []}
    assert pending_ids(app) == set()
    assert sorted(p.name for p in (on_disk / "2024/04/invoices").iterdir()) == [
        "d0.pdf", "d1.pdf", "d2.pdf",
    ]  # fmt: skip


def test_an_unknown_or_unreachable_remote_is_not_configured(make_app, smb_server):
    app = make_app(documents={"nas_remote": "missing"})
    make_user(app, "a@example.com")
    client, token = app.test_client(), make_token(app, "a@example.com")
    config = client.get("/api/v1/sync/config", headers=bearer(token)).get_json()
    assert config["configured"] is False and "missing" in config["message"]
    assert client.post("/api/v1/sync/run", headers=bearer(token)).status_code == 400
