"""web/streaming.send_stored with a feature's store on a stored remote (a real WebDAV server):
the bytes stream from the remote, and the reply keeps the headers its clients read when the
store is a local folder (the local path is checked in each feature's own tests)."""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import os
import uuid

import pytest

from syncapp.remotes.catalog import create_remote
from tests.conftest import bearer, make_token, make_user

pytestmark = pytest.mark.peer

MiB = 1024 * 1024


def remote_store_app(make_app, webdav_server, section: str):
    app = make_app(**{section: {"remote": "store"}})
    make_user(app, "root@example.com", role="admin")
    with app.app_context():
        folder = f"{section}-{uuid.uuid4().hex[:12]}"
        create_remote("store", "webdav", {**webdav_server.settings, "remote_path": folder})
    return app, bearer(make_token(app, "root@example.com"))


def test_a_backup_from_a_remote_store_keeps_its_length_and_checksums(make_app, webdav_server):
    app, auth = remote_store_app(make_app, webdav_server, "backups")
    client = app.test_client()
    name = "full_2025-01-01_00-00-00.tar.gz"
    data = gzip.compress(os.urandom(3 * MiB))  # several of the chunks the reply is sent in
    form = {"file": (io.BytesIO(data), name), "type": "FULL"}
    stored = client.post("/upload", headers=auth, data=form, content_type="multipart/form-data")
    assert stored.status_code == 201, stored.get_json()
    md5 = hashlib.md5(data).hexdigest()

    response = client.get(f"/download/FULL/{name}", headers=auth)
    assert response.status_code == 200 and response.data == data
    assert response.headers["Content-Type"] == "application/gzip"
    assert response.headers["Content-Length"] == str(len(data))
    assert response.headers["ETag"] == f'"{md5}"'
    assert base64.b64decode(response.headers["Content-MD5"]).hex() == md5
    assert response.headers["Content-Disposition"] == f"attachment; filename={name}"

    same = client.get(f"/download/FULL/{name}", headers={**auth, "If-None-Match": f'"{md5}"'})
    assert same.status_code == 304 and same.data == b""
    assert "Content-MD5" not in same.headers

    # one byte range, read from the store as a range (Remote.read_range)
    start = 2 * MiB + 7
    part = client.get(f"/download/FULL/{name}", headers={**auth, "Range": f"bytes={start}-"})
    assert part.status_code == 206 and part.data == data[start:]
    assert part.headers["Content-Range"] == f"bytes {start}-{len(data) - 1}/{len(data)}"
    assert part.headers["Content-Length"] == str(len(data) - start)
    assert "Content-MD5" not in part.headers  # the whole file's: not this part's
    middle = client.get(f"/download/FULL/{name}", headers={**auth, "Range": "bytes=10-19"})
    assert middle.status_code == 206 and middle.data == data[10:20]
    # If-Range: the same version gets the range, another the whole file
    same_version = {**auth, "Range": "bytes=0-9", "If-Range": f'"{md5}"'}
    assert client.get(f"/download/FULL/{name}", headers=same_version).data == data[:10]
    other = client.get(
        f"/download/FULL/{name}", headers={**auth, "Range": "bytes=0-9", "If-Range": '"other"'}
    )
    assert other.status_code == 200 and other.data == data
    beyond = client.get(
        f"/download/FULL/{name}", headers={**auth, "Range": f"bytes={len(data) + 5}-"}
    )
    assert beyond.status_code == 416
    assert beyond.headers["Content-Range"] == f"bytes */{len(data)}"


def test_a_document_from_a_remote_store_keeps_its_headers(make_app, webdav_server):
    app, auth = remote_store_app(make_app, webdav_server, "documents")
    client = app.test_client()
    data = os.urandom(2 * MiB + 5)
    form = {"file": (io.BytesIO(data), "facture mars.pdf"), "type": "invoice"}
    stored = client.post(
        "/api/v1/documents", headers=auth, data=form, content_type="multipart/form-data"
    )
    assert stored.status_code == 201, stored.get_json()
    document = stored.get_json()

    response = client.get(f"/api/v1/documents/{document['id']}/download", headers=auth)
    assert response.status_code == 200 and response.data == data
    assert response.headers["ETag"] == f'"{hashlib.md5(data).hexdigest()}"'
    assert response.headers["Content-Disposition"] == 'attachment; filename="facture mars.pdf"'
    assert "Last-Modified" in response.headers
