"""A backup committed to a store on a network share crosses the network once: the upload is
staged in `.incoming/` and moved into place by the server (SMB rename, WebDAV MOVE), not sent
again. The bytes syncapp sends are counted by a proxy in front of the real server."""

from __future__ import annotations

import gzip
import io
import os
import uuid

import pytest

from syncapp.backups.integrity import wait_idle
from syncapp.remotes.catalog import create_remote
from tests.conftest import bearer, make_token, make_user
from tests.peers.tcp_proxy import TcpProxy
from tests.storage.proxied import proxied_settings, server_port

pytestmark = pytest.mark.peer

MiB = 1024 * 1024


@pytest.mark.parametrize("kind", ["smb", "webdav"])
def test_a_committed_backup_crosses_the_network_once(request, make_app, kind):
    peer = request.getfixturevalue(f"{kind}_server")
    proxy = TcpProxy("127.0.0.1", server_port(kind, peer.settings)).start()
    app = make_app(backups={"remote": "store"})
    make_user(app, "root@example.com", role="admin")
    token = make_token(app, "root@example.com")
    with app.app_context():
        settings = proxied_settings(kind, peer.settings, proxy.port)
        create_remote("store", kind, {**settings, "remote_path": f"store-{uuid.uuid4().hex[:12]}"})
    archive = gzip.compress(os.urandom(6 * MiB), compresslevel=1)  # incompressible: ~6 MiB
    name = "full_2025-01-01_00-00-00.tar.gz"
    try:
        form = {"file": (io.BytesIO(archive), name), "type": "FULL", "profile": "office"}
        response = app.test_client().post(
            "/upload", headers=bearer(token), data=form, content_type="multipart/form-data"
        )
        assert response.status_code == 201, response.get_json()
        sent = proxy.sent
        wait_idle()  # the gzip check after the reply reads the archive back through the proxy
    finally:
        proxy.stop()
    # the archive once, plus requests, listings and the sidecar; a second copy would double it
    assert len(archive) <= sent < len(archive) * 1.25
