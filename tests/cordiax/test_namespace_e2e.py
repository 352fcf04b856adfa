"""A real python-socketio client behaving like Cordiax, against the app under gunicorn."""

from __future__ import annotations

import queue
import threading
from pathlib import Path

import pytest
import requests

from tests.cordiax.client import CordiaxLikeClient
from tests.cordiax.payloads import (
    cordiax_bundle,
    encrypted_database,
    sha256,
    sqlite_database,
    zip_bundle,
)
from tests.live import LiveServer

pytestmark = pytest.mark.e2e
MiB = 1024 * 1024


def push(server: LiveServer, payload: bytes, device: str, token: str | None = None):
    token = server.token if token is None else token
    url = f"{server.url}?token={token}&device={device}"
    return CordiaxLikeClient(payload).connect(url)


def snapshots(server: LiveServer, device: str) -> list[dict]:
    response = requests.get(
        f"{server.url}/api/v1/cordiax/devices/{device}/snapshots",
        headers=server.headers,
        timeout=30,
    )
    return response.json() if response.status_code == 200 else []


def stored_files(server: LiveServer, device: str) -> list[str]:
    root = Path(server.env["SYNCAPP_INSTANCE_PATH"]) / "cordiax"
    return sorted(
        str(p.relative_to(root))
        for p in root.rglob("*")
        if p.is_file() and f"/{device}/" in f"/{p.relative_to(root)}"
    )


def test_a_50_mib_database_is_stored_once_despite_the_double_push(live_server):
    database = sqlite_database(50 * MiB, seed=50)
    client = push(live_server, database, "laptop-50")
    try:
        first, second = client.next_ack(), client.next_ack()
    finally:
        client.close()
    assert first["status"] == "ok" and first["sha256"] == sha256(database)
    assert first["size"] == len(database) and first["kind"] == "sqlite"
    assert first["encrypted"] is False and first["received_at"].endswith("Z")
    assert second["version"] == first["version"] and second["created"] is False
    versions = snapshots(live_server, "laptop-50")
    assert [v["version"] for v in versions] == [first["version"]]
    download = requests.get(
        f"{live_server.url}/api/v1/cordiax/devices/laptop-50/latest/download",
        headers=live_server.headers,
        timeout=60,
    )
    assert sha256(download.content) == sha256(database)


def test_a_zip_bundle_is_stored_and_extracted(live_server):
    bundle = cordiax_bundle(seed=1)
    client = push(live_server, bundle, "office-zip")
    try:
        ack = client.next_ack()
        client.next_ack()
    finally:
        client.close()
    assert ack["kind"] == "zip" and ack["encrypted"] is True and ack["sha256"] == sha256(bundle)
    files = stored_files(live_server, "office-zip")
    version = ack["version"]
    assert any(f.endswith(f"{version}/documentos/factura 1.pdf") for f in files)
    assert any(f.endswith(f"{version}/pdfs/recibo.pdf") for f in files)
    assert any(f.endswith(f"{version}/cordiax.db") for f in files)
    assert len(snapshots(live_server, "office-zip")) == 1


def refused(server: LiveServer, payload_or_hex, device: str, token: str | None = None) -> dict:
    """Push something bad; return the sync_error and check that nothing was stored."""
    client = CordiaxLikeClient(b"")
    if isinstance(payload_or_hex, str):
        client.payload_hex = payload_or_hex
    else:
        client.payload_hex = payload_or_hex.hex()
    token = server.token if token is None else token
    try:
        client.connect(f"{server.url}?token={token}&device={device}")
        error = client.next_error()
    finally:
        client.close()
    assert error["error"] and error["message"]
    assert stored_files(server, device) == []
    assert snapshots(server, device) == []
    return error


@pytest.fixture(scope="module")
def small_server(tmp_path_factory):
    """A server with a 1 MiB snapshot limit for the over-limit case."""
    server = LiveServer(
        tmp_path_factory.mktemp("cordiax-small"),
        env={"SYNCAPP_CORDIAX_MAX_SNAPSHOT_SIZE": str(MiB)},
    )
    server.prepare()
    server.start()
    yield server
    server.stop()


def test_bad_hex_is_refused(live_server):
    assert refused(live_server, "zz" * 100, "bad-hex")["error"] == "bad_hex"


def test_an_empty_payload_is_refused(live_server):
    assert refused(live_server, "", "empty-one")["error"] == "empty"


def test_an_over_limit_payload_is_refused(small_server):
    error = refused(small_server, encrypted_database(2 * MiB, seed=3), "too-big")
    assert error["error"] == "too_large"


@pytest.mark.parametrize("member", ["../escape.txt", "/etc/cron.d/evil", "a/../../b.txt"])
def test_a_zip_with_an_escaping_path_is_refused(live_server, member):
    bundle = zip_bundle({"cordiax.db": b"x" * 100, member: b"boom"})
    assert (
        refused(live_server, bundle, f"zip-escape-{abs(hash(member)) % 1000}")["error"]
        == "unsafe_zip"
    )


def test_a_missing_token_is_refused(live_server):
    client = CordiaxLikeClient(encrypted_database(1024))
    try:
        client.connect(f"{live_server.url}?device=no-token")
        error = client.next_error()
    finally:
        client.close()
    assert error["error"] == "unauthorized"
    assert snapshots(live_server, "no-token") == []


def test_a_wrong_token_is_refused(live_server):
    error = refused(live_server, encrypted_database(1024), "wrong-token", token="sa_not-a-token")
    assert error["error"] == "unauthorized"


def test_twenty_clients_pushing_at_once_are_all_stored_unmixed(live_server):
    payloads = {f"fleet-{n:02d}": encrypted_database(256 * 1024, seed=100 + n) for n in range(20)}
    results: queue.Queue = queue.Queue()

    def run(device: str, payload: bytes) -> None:
        client = push(live_server, payload, device)
        try:
            results.put((device, client.next_ack()))
            client.next_ack()
        finally:
            client.close()

    threads = [threading.Thread(target=run, args=item) for item in payloads.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    acks = dict(results.get_nowait() for _ in range(results.qsize()))
    assert set(acks) == set(payloads)
    for device, payload in payloads.items():
        assert acks[device]["sha256"] == sha256(payload)
        assert [v["sha256"] for v in snapshots(live_server, device)] == [sha256(payload)]


def test_anonymous_clients_from_listed_networks_when_allowed(tmp_path):
    server = LiveServer(
        tmp_path,
        env={
            "SYNCAPP_CORDIAX_ALLOW_ANONYMOUS": "true",
            "SYNCAPP_CORDIAX_ANONYMOUS_NETWORKS": "127.0.0.0/8",
        },
    )
    server.prepare()
    server.start()
    database = encrypted_database(4096, seed=77)
    client = CordiaxLikeClient(database)
    try:
        client.connect(f"{server.url}?device=legacy-lan")
        ack = client.next_ack()
    finally:
        client.close()
        server.stop()
    assert ack["sha256"] == sha256(database) and ack["status"] == "ok"
