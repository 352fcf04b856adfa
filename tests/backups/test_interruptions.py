"""Interrupted uploads under gunicorn: a vanished client or a killed server leaves nothing."""

from __future__ import annotations

import hashlib
import json
import socket
from pathlib import Path

import pytest
import requests

from tests.backups.helpers import make_archive
from tests.live import LiveServer
from tests.peers.process import wait_until
from tests.raw_http import Connection, request_bytes

pytestmark = pytest.mark.e2e

BOUNDARY = "----syncapp-test-boundary"


def start_upload(server: LiveServer, name: str, declared: int, send: int) -> socket.socket:
    """Open an upload that announces `declared` bytes of archive but sends only `send`."""
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
        "Content-Type: application/gzip\r\n\r\n"
    ).encode()
    tail = f"\r\n--{BOUNDARY}--\r\n".encode()
    request = (
        f"POST /upload HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
        f"Authorization: Bearer {server.token}\r\n"
        f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n"
        f"Content-Length: {len(head) + declared + len(tail)}\r\n\r\n"
    ).encode()
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    sock.sendall(request + head)
    body = make_archive(1, size=64) + bytes(send)  # gzip magic first, then filler
    sock.sendall(body[:send])
    return sock


def leftovers(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def uploads_in_progress(root: Path) -> list[str]:
    incoming = root / ".incoming"
    return sorted(p.name for p in incoming.rglob("*")) if incoming.exists() else []


@pytest.fixture
def server(tmp_path):
    live = LiveServer(tmp_path)
    live.prepare()
    live.start()
    yield live
    live.stop()


def store_root(server: LiveServer) -> Path:
    return Path(server.env["SYNCAPP_BACKUPS_ROOT"])


def test_a_client_that_disconnects_mid_upload_leaves_nothing(server):
    sock = start_upload(server, "full_cut.tar.gz", declared=50 * 2**20, send=6 * 2**20)
    wait_until(lambda: uploads_in_progress(store_root(server)), 30, "the upload to start")
    sock.close()
    wait_until(lambda: leftovers(store_root(server)) == [], 30, "the debris to be removed")
    listing = requests.get(f"{server.url}/list", headers=server.headers, timeout=10).json()
    assert listing["total_count"] == 0


def test_a_server_killed_mid_upload_lists_nothing_and_cleans_up_on_restart(server):
    sock = start_upload(server, "full_killed.tar.gz", declared=50 * 2**20, send=6 * 2**20)
    wait_until(lambda: uploads_in_progress(store_root(server)), 30, "the upload to start")
    server.process.kill()
    sock.close()
    assert uploads_in_progress(store_root(server)), "the crash should have left debris to clean"
    server.start()
    assert leftovers(store_root(server)) == []
    listing = requests.get(f"{server.url}/list", headers=server.headers, timeout=10).json()
    assert listing["total_count"] == 0


def test_an_upload_read_from_the_socket_leaves_the_next_request_in_place(server):
    """The form is read straight from gunicorn's socket (syncapp/bodies.py): a request
    pipelined behind it, and the next one on the kept-alive connection, are answered."""
    archive = make_archive(3, size=3 * 2**20)
    body = (
        (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="type"\r\n\r\nFULL\r\n'
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="profile"\r\n\r\nkeepalive\r\n'
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="k.tar.gz"\r\n'
            "Content-Type: application/gzip\r\n\r\n"
        ).encode()
        + archive
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )
    form = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}", **server.headers}
    conn = Connection(server.port)
    try:
        conn.send(
            request_bytes("POST", "/upload", server.port, form, body),
            request_bytes("GET", "/list", server.port, server.headers, b""),
        )
        status, _, reply = conn.response()
        assert status == 201, reply
        assert json.loads(reply)["md5"] == hashlib.md5(archive).hexdigest()
        status, _, listing = conn.response()
        assert status == 200 and json.loads(listing)["total_count"] == 1
        conn.send(request_bytes("GET", "/list", server.port, server.headers, b""))
        assert conn.response()[0] == 200
    finally:
        conn.close()
