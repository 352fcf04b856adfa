"""The storage server behind a feature's own store goes away (issue 11): each feature that keeps
its files on a stored remote (`<feature>.remote`) answers a clear 503 (or sync_error) instead of a
500, keeps nothing half-stored, and works again, with no restart, once the server is back.

The transfers between remotes, sync jobs, cloud replication, the NAS copy of documents and the
Cordiax pollers have their own "server stopped mid-run" tests (see docs in the report map).
"""

from __future__ import annotations

import gzip
import io
import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import func, select

from syncapp.backups.models import BackupArchive
from syncapp.cloud.models import CloudVersion
from syncapp.cordiax.models import CordiaxSnapshot
from syncapp.documents.models import Document
from syncapp.extensions import db, socketio
from syncapp.storage import open_remote
from tests.cloud.conftest import stored_remote
from tests.conftest import bearer, make_token, make_user
from tests.cordiax.payloads import encrypted_database
from tests.peers.process import Peer

pytestmark = pytest.mark.peer

CORDIAX = "/cordiax-sync/"


@dataclass
class Feature:
    """One feature's upload, as a function of (app, token, seed) -> (ok?, error code)."""

    section: str
    model: Any
    store: Callable[[Any, str, int], tuple[bool, str | None]]


def push_backup(app, token: str, seed: int) -> tuple[bool, str | None]:
    data = gzip.compress(os.urandom(64 * 1024) + bytes([seed]))
    name = f"full_2025-01-0{seed}_00-00-00.tar.gz"
    response = app.test_client().post(
        "/upload",
        headers=bearer(token),
        data={"file": (io.BytesIO(data), name), "type": "FULL", "profile": "document"},
        content_type="multipart/form-data",
    )
    return outcome(response, 201)


def push_document(app, token: str, seed: int) -> tuple[bool, str | None]:
    response = app.test_client().post(
        "/api/v1/documents",
        headers=bearer(token),
        data={
            "file": (io.BytesIO(b"%PDF-1.7 " + os.urandom(32 * 1024)), f"invoice-{seed}.pdf"),
            "type": "invoice",
            "date": "2024-01-15",
        },
        content_type="multipart/form-data",
    )
    return outcome(response, 201)


def push_cloud_file(app, token: str, seed: int) -> tuple[bool, str | None]:
    response = app.test_client().post(
        "/api/v1/upload",
        headers=bearer(token),
        data={"file": (io.BytesIO(os.urandom(32 * 1024)), f"report-{seed}.bin")},
        content_type="multipart/form-data",
    )
    return outcome(response, 202)


def push_snapshot(app, token: str, seed: int) -> tuple[bool, str | None]:
    client = socketio.test_client(app, namespace=CORDIAX, query_string=f"token={token}&device=pc")
    try:
        data = encrypted_database(16 * 1024, seed=seed)
        answer = client.emit("sync_data", {"data": data.hex()}, namespace=CORDIAX, callback=True)
        errors = [m["args"][0] for m in client.get_received(CORDIAX) if m["name"] == "sync_error"]
    finally:
        client.disconnect(CORDIAX)
    if answer.get("status") == "ok":
        return True, None
    assert [e["error"] for e in errors] == [answer["error"]]  # the client hears it too
    return False, answer["error"]


def outcome(response, success: int) -> tuple[bool, str | None]:
    if response.status_code == success:
        return True, None
    body = response.get_json()
    assert body is not None and body["status"] == "error", response.data[:300]
    assert response.status_code == 503, (response.status_code, body)
    return False, body.get("code", body["error"])  # seed 003's routes: `code`


FEATURES = {
    "backups": Feature("backups", BackupArchive, push_backup),
    "documents": Feature("documents", Document, push_document),
    "cloud": Feature("cloud", CloudVersion, push_cloud_file),
    "cordiax": Feature("cordiax", CordiaxSnapshot, push_snapshot),
}


# Servers that keep their files across a restart (moto's S3 starts empty again), so that what
# was stored before the outage can be compared with what is there after it.
@pytest.fixture(params=["webdav", "smb"])
def storage(request) -> Iterator[tuple[str, Peer]]:
    kind = request.param
    peer: Peer = request.getfixturevalue(f"{kind}_server")
    yield kind, peer
    if not peer.process.running:  # a failed test must not leave the session's server down
        peer.process.start()


def files_on(kind: str, settings: dict) -> list[str]:
    remote = open_remote(kind, **settings)
    try:
        return sorted(e.path for e in remote.iter_entries("", include_temp=True))
    finally:
        remote.close()


@pytest.mark.parametrize("feature", sorted(FEATURES))
def test_a_store_whose_server_is_down_answers_503_and_recovers(make_app, storage, feature):
    kind, peer = storage
    spec = FEATURES[feature]
    where = {**peer.settings, "remote_path": f"fault/{uuid.uuid4().hex[:10]}"}
    app = make_app(**{spec.section: {"remote": "feature-store"}})
    stored_remote(app, "feature-store", kind, where)
    make_user(app, "owner@example.com")
    token = make_token(app, "owner@example.com")
    assert spec.store(app, token, 1) == (True, None)
    before = files_on(kind, where)

    peer.process.stop()
    try:
        ok, error = spec.store(app, token, 2)
        assert not ok and error == "storage_unavailable"
    finally:
        peer.process.start()

    with app.app_context():
        rows = db.session.scalar(select(func.count()).select_from(spec.model))
    assert rows == 1  # no row for the refused upload
    assert files_on(kind, where) == before  # and no file, whole or partial
    assert spec.store(app, token, 3) == (True, None)  # the same app, once the server is back
    assert len(files_on(kind, where)) > len(before)
