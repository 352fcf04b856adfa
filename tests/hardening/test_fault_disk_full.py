"""A full disk under each store that takes uploads (issue 11): 507 (or sync_error
`insufficient_storage` for a Cordiax push), nothing partial left on the disk, no row.

Backups have their own test (tests/backups/test_disk_full.py) and the NAS copy of documents too
(tests/documents/test_sync_mount.py); here: the document store, the cloud file store and the
Cordiax snapshot store, each on a real 1 MiB tmpfs that really fills up.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from syncapp.cloud.models import CloudFile, CloudVersion
from syncapp.cordiax.models import CordiaxSnapshot
from syncapp.documents.models import Document
from syncapp.extensions import db, socketio
from tests.cloud.conftest import CloudUser
from tests.conftest import bearer, make_token, make_user
from tests.cordiax.payloads import encrypted_database
from tests.documents.helpers import mount_tmpfs, tree, unmount
from tests.documents.helpers import upload as upload_document

pytestmark = pytest.mark.peer

CORDIAX = "/cordiax-sync/"


@pytest.fixture
def small_disk(tmp_path) -> Iterator[Path]:
    """A 1 MiB tmpfs: a real file system that really fills up."""
    mount_point = tmp_path / "small-disk"
    mount_tmpfs(mount_point, "1m")
    yield mount_point
    unmount(mount_point)


def count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def test_a_full_document_store_is_507_and_keeps_nothing(make_app, small_disk):
    app = make_app(documents={"root": str(small_disk / "documents")})
    make_user(app, "doc@example.com")
    token = make_token(app, "doc@example.com")
    client = app.test_client()
    assert (
        upload_document(client, token, b"%PDF small", "small.pdf", date="2024-01-15").status_code
        == 201
    )
    before, rows = tree(small_disk), count(app, Document)

    response = upload_document(
        client, token, os.urandom(2 * 1024 * 1024), "big.pdf", date="2024-01-15"
    )

    assert response.status_code == 507
    assert response.get_json()["error"] == "insufficient_storage"
    assert tree(small_disk) == before  # no partial file, no temp file
    assert count(app, Document) == rows
    listed = client.get("/api/v1/documents", headers=bearer(token)).get_json()
    assert listed["total"] == 1


def test_a_full_cloud_file_store_is_507_and_keeps_nothing(make_app, small_disk):
    app = make_app(cloud={"root": str(small_disk / "cloud")})
    user = CloudUser(app, "cloud@example.com")
    user.uploaded(b"fits", "small.txt")
    before = tree(small_disk)
    rows = (count(app, CloudFile), count(app, CloudVersion))

    response = user.upload(os.urandom(2 * 1024 * 1024), "big.bin")

    assert response.status_code == 507
    assert response.get_json()["error"] == "insufficient_storage"
    assert tree(small_disk) == before
    assert (count(app, CloudFile), count(app, CloudVersion)) == rows


def test_a_full_snapshot_store_answers_sync_error_and_keeps_nothing(make_app, small_disk):
    app = make_app(cordiax={"root": str(small_disk / "cordiax")})
    make_user(app, "pc@example.com")
    token = make_token(app, "pc@example.com")
    client = socketio.test_client(app, namespace=CORDIAX, query_string=f"token={token}&device=pc")
    try:
        assert client.is_connected(CORDIAX)
        small = client.emit(
            "sync_data", {"data": encrypted_database(4096).hex()}, namespace=CORDIAX, callback=True
        )
        assert small["status"] == "ok"
        before, rows = tree(small_disk), count(app, CordiaxSnapshot)
        client.get_received(CORDIAX)

        big = encrypted_database(2 * 1024 * 1024, seed=2)
        answer = client.emit("sync_data", {"data": big.hex()}, namespace=CORDIAX, callback=True)

        assert answer == {
            "status": "error",
            "error": "insufficient_storage",
            "message": answer["message"],
        }
        errors = [m["args"][0] for m in client.get_received(CORDIAX) if m["name"] == "sync_error"]
        assert [e["error"] for e in errors] == ["insufficient_storage"]
        assert tree(small_disk) == before  # neither the blob nor its sidecar, latest.json untouched
        assert count(app, CordiaxSnapshot) == rows
    finally:
        client.disconnect(CORDIAX)
