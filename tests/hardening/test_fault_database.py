"""Database unavailable (issue 11): the app under gunicorn on a PostgreSQL database reached
through a TCP proxy the test stops and starts. While it is down: 503 + JSON from health and from
API routes (never a 500 with a trace), nothing half-stored; when it returns: 200 again, with the
same gunicorn process (no restart).
"""

from __future__ import annotations

import gzip
import hashlib
import io
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import requests

from tests.cordiax.client import CordiaxLikeClient
from tests.cordiax.payloads import encrypted_database, sha256
from tests.live import LiveServer
from tests.peers.process import wait_until
from tests.peers.tcp_proxy import TcpProxy

pytestmark = [pytest.mark.e2e, pytest.mark.peer]


def through(url: str, proxy: TcpProxy) -> str:
    parts = urlsplit(url)
    userinfo = parts.netloc.rpartition("@")[0]
    netloc = f"{userinfo}@127.0.0.1:{proxy.port}" if userinfo else f"127.0.0.1:{proxy.port}"
    return urlunsplit(parts._replace(netloc=netloc))


@pytest.fixture
def proxied(postgres_url, tmp_path) -> Iterator[tuple[LiveServer, TcpProxy]]:
    target = urlsplit(postgres_url)
    proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 5432).start()
    # a short connect timeout: a refused connection fails at once, a silent one within 3 s
    url = through(postgres_url, proxy) + "?connect_timeout=3"
    server = LiveServer(tmp_path, env={"DATABASE_URL": url})
    try:
        server.prepare()
        server.start()
        yield server, proxy
    finally:
        server.stop()
        proxy.stop()


def get(server: LiveServer, path: str, **kwargs) -> requests.Response:
    return requests.get(f"{server.url}{path}", headers=server.headers, timeout=60, **kwargs)


def archive(seed: int) -> tuple[str, bytes]:
    data = gzip.compress(hashlib.sha256(str(seed).encode()).digest() * 1000)
    return f"full_2025-01-0{seed}_00-00-00.tar.gz", data


def upload_backup(server: LiveServer, seed: int) -> requests.Response:
    name, data = archive(seed)
    return requests.post(
        f"{server.url}/upload",
        headers=server.headers,
        files={"file": (name, io.BytesIO(data))},
        data={"type": "FULL", "profile": "document"},
        timeout=60,
    )


def backup_files(server: LiveServer) -> list[str]:
    root = Path(server.env["SYNCAPP_BACKUPS_ROOT"])
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def assert_database_unavailable(response: requests.Response) -> None:
    assert response.status_code == 503, (response.status_code, response.text[:500])
    body = response.json()
    # the code: in `code` on seed 003's backup routes (their `error` is the sentence)
    assert body["status"] == "error" and body.get("code", body["error"]) == "database_unavailable"
    assert "Traceback" not in response.text and body["message"]


def test_a_database_outage_is_503_json_and_recovers_without_a_restart(proxied):
    server, proxy = proxied
    assert get(server, "/api/v1/health").status_code == 200
    assert upload_backup(server, 1).status_code == 201
    before = backup_files(server)
    pid = server.process.proc.pid
    assert proxy.connections > 0  # the app really goes through the proxy

    proxy.stop()
    health = get(server, "/api/v1/health")
    assert health.status_code == 503
    body = health.json()
    assert body["status"] == "error" and body["checks"]["database"]["status"] == "error"
    assert "database" in body["message"]
    anonymous = requests.get(f"{server.url}/api/v1/health", timeout=60)
    assert (
        anonymous.status_code == 503 and anonymous.json()["checks"]["database"]["status"] == "error"
    )

    # token-authenticated API routes: the token lookup itself needs the database
    for path in ("/api/v1/tokens", "/api/v1/documents", "/api/v1/cordiax/devices", "/list"):
        assert_database_unavailable(get(server, path))
    assert_database_unavailable(upload_backup(server, 2))
    assert backup_files(server) == before  # the refused upload left nothing behind

    # a Cordiax client hears sync_error instead of silence, and nothing is stored
    client = CordiaxLikeClient(encrypted_database(4096, seed=11))
    try:
        client.connect(f"{server.url}?token={server.token}&device=db-down")
        assert client.next_error()["error"] == "database_unavailable"
    finally:
        client.close()

    proxy.start()
    wait_until(
        lambda: get(server, "/api/v1/health").status_code == 200,
        timeout=60,
        what="health to recover once the database is back",
    )
    assert server.process.running and server.process.proc.pid == pid  # no restart
    assert get(server, "/api/v1/tokens").status_code == 200
    assert upload_backup(server, 2).status_code == 201
    assert len(backup_files(server)) > len(before)
    data = encrypted_database(4096, seed=12)
    client = CordiaxLikeClient(data).connect(f"{server.url}?token={server.token}&device=db-back")
    try:
        assert client.next_ack()["sha256"] == sha256(data)
    finally:
        client.close()
