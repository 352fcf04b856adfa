"""The Cordiax desktop client's own sync calls (tests/clients/cordiax_client.py, under its own
python-socketio 5.11) against syncapp under gunicorn: issue 17, Cordiax items 1-5.

The replica is a subprocess; each step waits for what it reports or for the server's API to show
the result, with a deadline. The only waits that run out on purpose prove that something did not
happen again (no re-upload loop)."""

from __future__ import annotations

import io
import json
import subprocess
import threading
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from tests.cordiax.payloads import sqlite_database
from tests.live import PROJECT, LiveServer
from tests.peers.process import peer_missing, wait_until

pytestmark = pytest.mark.e2e

MiB = 1024 * 1024
CLIENT_PYTHON = PROJECT / ".peers" / "cordiax-client" / "bin" / "python"
REPLICA = Path(__file__).with_name("cordiax_client.py")
NAMESPACE = "/cordiax-sync/"
#: cordiax.sync_request_interval for these tests (the default is 300 s)
INTERVAL = 3


class Replica:
    """One replica process (one client, or `clients` side by side) and what it reports."""

    def __init__(self, url: str, data: Path, device: str, clients: int = 0) -> None:
        argv = [str(CLIENT_PYTHON), str(REPLICA), "--url", url, "--namespace", NAMESPACE]
        argv += ["--data", str(data), "--device", device]
        if clients:
            argv += ["--clients", str(clients)]
        self.stderr = data.parent / f"{device}.stderr"
        with open(self.stderr, "wb") as stderr:
            self.proc = subprocess.Popen(
                argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr, text=True
            )
        self.events: list[dict] = []
        self._changed = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._changed:
                self.events.append(json.loads(line))
                self._changed.notify_all()

    def count(self, event: str, client: str | None = None) -> int:
        with self._changed:
            return sum(
                1
                for e in self.events
                if e["event"] == event and (client is None or e["client"] == client)
            )

    def wait_for(self, condition: Callable[[], bool], timeout: float) -> bool:
        """True once `condition` holds; False if `timeout` passes first."""
        with self._changed:
            return self._changed.wait_for(condition, timeout)

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    if not CLIENT_PYTHON.exists():
        peer_missing("the Cordiax client's python-socketio is missing: run scripts/install_peers")
    live = LiveServer(
        tmp_path_factory.mktemp("cordiax-clients"),
        threads=200,
        env={"SYNCAPP_CORDIAX_SYNC_REQUEST_INTERVAL": str(INTERVAL)},
    )
    live.prepare()
    live.start()
    yield live
    live.stop()


@pytest.fixture
def replicas():
    started: list[Replica] = []
    yield started
    for replica in started:
        replica.close()


def data_dir(root: Path, database: bytes) -> Path:
    (root / "documentos").mkdir(parents=True)
    (root / "documentos" / "nota.txt").write_text("hola")
    (root / "cordiax.db").write_bytes(database)
    return root


def start(server: LiveServer, replicas: list, root: Path, device: str, **kw) -> Replica:
    token = kw.pop("token", server.token)
    url = f"{server.url}?token={token}" + ("" if kw.get("clients") else f"&device={device}")
    replica = Replica(url, root, device, **kw)
    replicas.append(replica)
    return replica


def api(server: LiveServer, path: str) -> requests.Response:
    return requests.get(f"{server.url}/api/v1/cordiax{path}", headers=server.headers, timeout=60)


def versions(server: LiveServer, device: str) -> list[dict]:
    answer = api(server, f"/devices/{device}/snapshots")
    return answer.json() if answer.status_code == 200 else []


def stored_database(server: LiveServer, device: str) -> bytes:
    """cordiax.db inside the device's latest snapshot (the client pushes a ZIP)."""
    latest = api(server, f"/devices/{device}/latest/download")
    with zipfile.ZipFile(io.BytesIO(latest.content)) as bundle:
        assert sorted(bundle.namelist()) == ["cordiax.db", "documentos/nota.txt"]
        return bundle.read("cordiax.db")


@pytest.mark.parametrize("size", [1 * MiB, 90 * MiB], ids=["1MiB", "90MiB"])
def test_a_database_reaches_the_server_on_its_own(server, replicas, tmp_path, size):
    """1 MiB: zipped before the client counts as connected, so before the fix neither its own
    push nor the server's early sync_request sent anything. 90 MiB: the largest case here."""
    database = sqlite_database(size, seed=size)
    device = f"db-{size // MiB}-mib"
    start(server, replicas, data_dir(tmp_path / device, database), device)

    wait_until(lambda: versions(server, device), 300, f"the {size // MiB} MiB database")

    assert stored_database(server, device) == database


def test_a_change_is_pushed_within_the_sync_request_interval(server, replicas, tmp_path):
    root = data_dir(tmp_path / "changing", sqlite_database(64 * 1024, seed=2))
    replica = start(server, replicas, root, "changing-pc")
    wait_until(lambda: versions(server, "changing-pc"), 60, "the first version")
    changed = sqlite_database(64 * 1024, seed=3)
    (root / "cordiax.db").write_bytes(changed)

    # The client has no timer: only the server's periodic sync_request brings the change.
    wait_until(lambda: len(versions(server, "changing-pc")) == 2, 4 * INTERVAL, "the change")

    assert stored_database(server, "changing-pc") == changed
    assert replica.count("sync_request") >= 2


def test_a_120_mib_push_gets_sync_error_and_is_not_uploaded_again(server, replicas, tmp_path):
    database = sqlite_database(120 * MiB, seed=5)
    replica = start(server, replicas, data_dir(tmp_path / "huge", database), "huge-pc")

    assert replica.wait_for(lambda: replica.count("sync_error") >= 1, 300), "no sync_error"
    error = next(e["error"] for e in replica.events if e["event"] == "sync_error")
    assert error["error"] == "too_large" and str(100 * MiB) in error["message"]
    # It pushes on connecting and for the first sync_request (two at most); after the refusal
    # the server asks no more, so three intervals pass without another upload.
    looped = replica.wait_for(lambda: replica.count("pushed") > 2, 3 * INTERVAL + 5)
    assert not looped and replica.count("disconnected") == 0
    assert versions(server, "huge-pc") == []
    refused = [r for r in api(server, "/refused").json() if r["device"] == "huge-pc"]
    assert [(r["reason"], r["count"] <= 2) for r in refused] == [("too_large", True)]


def test_a_wrong_token_is_listed_for_the_admin(server, replicas, tmp_path):
    root = data_dir(tmp_path / "wrong", sqlite_database(4096, seed=6))
    start(server, replicas, root, "wrong-token-pc", token="not-a-real-token")

    def listed() -> list[dict]:
        return [r for r in api(server, "/refused").json() if r["device"] == "wrong-token-pc"]

    wait_until(listed, 60, "the refusal to be listed")

    (row,) = listed()
    assert row["reason"] == "unauthorized" and row["address"] == "127.0.0.1"
    assert row["count"] >= 1 and row["last_at"].endswith("Z")
    assert versions(server, "wrong-token-pc") == []


def test_50_connected_clients_reconnect_after_a_restart(server, replicas, tmp_path):
    """Runs last in this module: it restarts the module's server. The time the stop takes is
    measured in bench/cordiax_restart.py (docs/benchmarks.md)."""
    count = 50
    for i in range(count):
        data_dir(tmp_path / "fleet" / str(i), sqlite_database(4096, seed=100 + i))
    replica = start(server, replicas, tmp_path / "fleet", "fleet", clients=count)
    names = {f"fleet-{i}" for i in range(count)}

    def stored() -> set[str]:
        return {d["device"] for d in api(server, "/devices").json()} & names

    wait_until(lambda: stored() == names, 120, "all 50 clients to push")
    log = Path(server.process.log_path)
    before = log.stat().st_size

    server.stop()
    # gunicorn ended by itself (0), not killed when ServerProcess's 10 s ran out (-9): the
    # connected clients no longer hold the worker for its 60 s graceful timeout.
    assert server.process.proc.returncode == 0
    server.start()

    def all_reconnected() -> bool:
        return all(replica.count("connected", name) >= 2 for name in names)

    assert replica.wait_for(all_reconnected, 120), "not every client reconnected"
    stop_log = log.read_bytes()[before:].decode(errors="replace")
    assert "cannot schedule new futures" not in stop_log and "Traceback" not in stop_log
    # They push again once reconnected; identical content adds no version.
    wait_until(lambda: all(replica.count("pushed", name) >= 2 for name in names), 120, "pushes")
    assert all(len(versions(server, name)) == 1 for name in sorted(names)[:5])
