"""server.trusted_proxies: X-Forwarded-* headers are ignored by default and honoured, for the
last hop only, behind one proxy (nginx) — for HTTP requests and for Socket.IO connections."""

from __future__ import annotations

import io
import socket
from urllib.parse import urlsplit

import pytest
from flask import request

from tests.backups.helpers import make_archive
from tests.conftest import bearer, make_token, make_user
from tests.cordiax.client import CordiaxLikeClient
from tests.cordiax.payloads import encrypted_database, sha256
from tests.live import LiveServer

FORWARDED = {
    "X-Forwarded-For": "10.9.1.2",
    "X-Forwarded-Proto": "https",
    "X-Forwarded-Host": "sync.example.org",
}


def make_echo_app(make_app, trusted_proxies: int):
    """An app with one extra authenticated route that reports what Flask believes."""
    app = make_app(server={"trusted_proxies": trusted_proxies})

    @app.get("/test-proxy-echo")
    def echo():
        return {"addr": request.remote_addr, "scheme": request.scheme, "host": request.host}

    make_user(app, "proxy@example.com")
    return app, make_token(app, "proxy@example.com")


def echo(app, token: str, headers: dict[str, str]) -> dict:
    response = app.test_client().get(
        "/test-proxy-echo",
        headers={**bearer(token), **headers},
        environ_base={"REMOTE_ADDR": "127.0.0.1"},
    )
    assert response.status_code == 200
    return response.get_json()


def test_forwarded_headers_are_ignored_by_default(make_app):
    app, token = make_echo_app(make_app, 0)
    seen = echo(app, token, FORWARDED)
    assert seen == {"addr": "127.0.0.1", "scheme": "http", "host": "localhost"}


def test_forwarded_headers_are_honoured_behind_one_proxy(make_app):
    app, token = make_echo_app(make_app, 1)
    seen = echo(app, token, FORWARDED)
    assert seen == {"addr": "10.9.1.2", "scheme": "https", "host": "sync.example.org"}


def test_only_the_address_the_trusted_proxy_appended_counts(make_app):
    # A client may send its own X-Forwarded-For; nginx appends the address it saw. With one
    # trusted proxy only that last entry is believed.
    app, token = make_echo_app(make_app, 1)
    seen = echo(app, token, {"X-Forwarded-For": "10.9.1.2, 192.0.2.7"})
    assert seen["addr"] == "192.0.2.7"


@pytest.mark.parametrize(("trusted", "expected"), [(0, 401), (1, 201)])
def test_anonymous_backup_networks_use_the_forwarded_address(make_app, trusted, expected):
    app = make_app(
        server={"trusted_proxies": trusted},
        backups={"allow_anonymous": True, "anonymous_networks": ["10.9.0.0/16"]},
    )
    make_user(app, "owner@example.com", role="admin")  # anonymous archives go to the install owner
    response = app.test_client().post(
        "/upload",
        data={"file": (io.BytesIO(make_archive(31)), "full_31.tar.gz")},
        content_type="multipart/form-data",
        headers={"X-Forwarded-For": "10.9.1.2"},
        environ_base={"REMOTE_ADDR": "127.0.0.1"},
    )
    assert response.status_code == expected


def connect_from(client: CordiaxLikeClient, url: str, source: str, **options) -> None:
    """Connect over a WebSocket whose TCP connection leaves from `source` (a 127/8 address)."""
    parts = urlsplit(url)
    sock = socket.socket()
    sock.bind((source, 0))
    sock.connect((parts.hostname, parts.port))
    client.sio.eio.websocket_extra_options = {"socket": sock}
    client.sio.connect(url, transports=["websocket"], wait_timeout=30, **options)


@pytest.mark.e2e
def test_socketio_through_nginx_sees_the_client_address(tmp_path, nginx_factory):
    """deploy/nginx.conf in front, trusted_proxies = 1: an anonymous Cordiax client from a listed
    network is let in by the address nginx forwards (so ProxyFix wraps the Socket.IO layer too,
    and the WebSocket upgrade passes engine.io's Origin check on a non-default port); a client
    outside it stays out even when it forges X-Forwarded-For."""
    server = LiveServer(
        tmp_path,
        env={
            "SYNCAPP_SERVER_TRUSTED_PROXIES": "1",
            "SYNCAPP_CORDIAX_ALLOW_ANONYMOUS": "true",
            "SYNCAPP_CORDIAX_ANONYMOUS_NETWORKS": "127.2.0.0/16",
        },
    )
    server.prepare()
    server.start()
    database = encrypted_database(4096, seed=91)
    inside, outside = CordiaxLikeClient(database), CordiaxLikeClient(database)
    try:
        nginx = nginx_factory([urlsplit(server.url).netloc])
        connect_from(inside, f"{nginx.url}?device=behind-nginx", "127.2.5.1")
        ack = inside.next_ack()
        forged = {"X-Forwarded-For": "127.2.9.9"}
        connect_from(outside, f"{nginx.url}?device=forged", "127.0.0.1", headers=forged)
        error = outside.next_error()
    finally:
        inside.close()
        outside.close()
        server.stop()
    assert ack["status"] == "ok" and ack["sha256"] == sha256(database)
    assert error["error"] == "unauthorized"
