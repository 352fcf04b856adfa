"""A push the server cannot take now is refused with `sync_error` `busy` and a retry hint, on a
connection that stays open, and the Cordiax client's own behaviour (it pushes on every
`sync_request`, it ignores `sync_error`) brings it in later (issue 23, mixed load).

The server takes one push at a time and lets none wait (cordiax.max_concurrent_pushes 1,
max_waiting_push_bytes 0); its snapshots go to S3 (moto) through a proxy that holds the first
upload, so the first client's push occupies the only slot for as long as the test wants. Every
step waits for what the replicas report, the proxy's stall, or the API, with a deadline."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from tests.clients.test_cordiax_client import (
    CLIENT_PYTHON,
    Replica,
    data_dir,
    start,
    stored_database,
    versions,
)
from tests.cordiax.payloads import sqlite_database
from tests.live import LiveServer
from tests.peers.process import peer_missing, wait_until
from tests.peers.s3 import start_moto
from tests.peers.tcp_proxy import StallingProxy, TcpProxy

pytestmark = pytest.mark.e2e

#: cordiax.busy_retry_after: the refused client is asked again after 1-2 s
RETRY_AFTER = 1


@pytest.fixture
def stalled_store(tmp_path):
    """syncapp whose snapshot store is S3 behind a proxy that holds the first PUT."""
    if not CLIENT_PYTHON.exists():
        peer_missing("the Cordiax client's python-socketio is missing: run scripts/install_peers")
    (tmp_path / "moto").mkdir()
    s3 = start_moto(tmp_path / "moto")
    proxy = StallingProxy("127.0.0.1", urlsplit(s3.settings["endpoint_url"]).port, b"PUT ")
    proxy.start()
    env = {
        "SYNCAPP_CORDIAX_REMOTE": "busy-snapshots",
        "SYNCAPP_CORDIAX_MAX_CONCURRENT_PUSHES": "1",
        "SYNCAPP_CORDIAX_MAX_WAITING_PUSH_BYTES": "0",
        "SYNCAPP_CORDIAX_BUSY_RETRY_AFTER": str(RETRY_AFTER),
        "SYNCAPP_CORDIAX_SYNC_REQUEST_INTERVAL": "3",
        "BUSYS3_BUCKET": s3.settings["bucket"],
        "BUSYS3_ENDPOINT_URL": f"http://127.0.0.1:{proxy.port}",
        "BUSYS3_REGION": s3.settings["region"],
        "BUSYS3_ACCESS_KEY_ID": s3.settings["access_key_id"],
        "BUSYS3_SECRET_ACCESS_KEY": s3.settings["secret_access_key"],
    }
    server = LiveServer(tmp_path / "server", threads=64, env=env)
    server.workdir.mkdir(parents=True)
    server.prepare()
    server.flask("remotes", "create", "busy-snapshots", "--kind", "s3", "--env-prefix", "BUSYS3_",
                 "--set", "prefix=busy")  # fmt: skip
    server.start()
    proxies = [proxy]
    try:
        yield server, proxies
    finally:
        server.stop()
        for each in proxies:
            each.stop()
        s3.process.stop()


def busy_errors(replica: Replica) -> list[dict]:
    errors = [e["error"] for e in replica.events if e["event"] == "sync_error"]
    return [e for e in errors if e.get("error") == "busy"]


def test_a_push_the_server_cannot_take_now_is_refused_and_asked_for_again(
    stalled_store, tmp_path
):
    server, proxies = stalled_store
    proxy = proxies[0]
    replicas: list[Replica] = []
    try:
        first_db, second_db = sqlite_database(256 * 1024, seed=31), sqlite_database(8192, seed=32)
        start(server, replicas, data_dir(tmp_path / "first", first_db), "first-pc")
        assert proxy.stalled.wait(60), "the first push never reached the store"
        # The only slot is held by the first push, whose upload hangs.
        second = start(server, replicas, data_dir(tmp_path / "second", second_db), "second-pc")

        assert second.wait_for(lambda: len(busy_errors(second)) >= 2, 60), "no second refusal"
        refusal = busy_errors(second)[0]
        assert isinstance(refusal["retry_after"], int) and 1 <= refusal["retry_after"] <= 2
        assert "nothing was stored" in refusal["message"]
        # Refused twice: between them the server asked again (the client pushes only then),
        # and the connection stayed open throughout.
        assert second.count("sync_request") >= 1 and second.count("pushed") >= 2
        assert second.count("disconnected") == 0
        assert versions(server, "second-pc") == []

        # The store answers again: the held upload fails (the first push is refused as an
        # outage and asked for again), later uploads go through.
        proxy.stop()
        proxies.append(TcpProxy("127.0.0.1", proxy.target[1], port=proxy.port).start())

        wait_until(lambda: versions(server, "second-pc"), 60, "the refused push to arrive")
        wait_until(lambda: versions(server, "first-pc"), 60, "the stalled push to arrive")
        assert stored_database(server, "second-pc") == second_db
        assert stored_database(server, "first-pc") == first_db
        assert all(r.count("disconnected") == 0 for r in replicas)
    finally:
        for replica in replicas:
            replica.close()
