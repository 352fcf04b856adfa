"""scripts/cordiax_push.py as a subprocess against the app under gunicorn (and the live log)."""

from __future__ import annotations

import io
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

import pytest
import requests
import socketio

from tests.cordiax.payloads import encrypted_database, sha256, sqlite_database
from tests.live import PROJECT, LiveServer
from tests.peers.process import free_port, wait_until

pytestmark = pytest.mark.e2e

SCRIPT = PROJECT / "scripts" / "cordiax_push.py"
ACK = re.compile(
    r"sync_ack: version=(?P<version>\S+) sha256=(?P<sha256>[0-9a-f]{64}) size=(?P<size>\d+) "
    r"kind=(?P<kind>\w+) encrypted=(?P<encrypted>yes|no) stored=(?P<stored>new|unchanged)"
)


def script_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("SYNCAPP_URL", "SYNCAPP_TOKEN")}
    return {**env, "PYTHONUNBUFFERED": "1"}


def command(server: LiveServer, path: Path, *args: str, token: str | None = None) -> list[str]:
    token = server.token if token is None else token
    return [sys.executable, str(SCRIPT), "--url", server.url, "--token", token, *args, str(path)]


def run_push(server: LiveServer, path: Path, *args: str, token: str | None = None):
    return subprocess.run(
        command(server, path, "--timeout", "60", *args, token=token),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        env=script_env(),
        check=False,
    )


def acks(output: str) -> list[dict[str, str]]:
    return [m.groupdict() for m in ACK.finditer(output)]


def snapshots(server: LiveServer, device: str) -> list[dict]:
    response = requests.get(
        f"{server.url}/api/v1/cordiax/devices/{device}/snapshots",
        headers=server.headers,
        timeout=30,
    )
    return response.json() if response.status_code == 200 else []


def test_a_database_file_is_pushed_acknowledged_and_listed(live_server, tmp_path):
    database = sqlite_database(300 * 1024, seed=71)
    path = tmp_path / "cordiax.db"
    path.write_bytes(database)

    result = run_push(live_server, path, "--device", "script-db")

    assert result.returncode == 0, result.stderr
    [ack] = acks(result.stdout)
    assert ack["sha256"] == sha256(database) and ack["size"] == str(len(database))
    assert ack["kind"] == "sqlite" and ack["encrypted"] == "no" and ack["stored"] == "new"
    listed = snapshots(live_server, "script-db")
    assert [(s["version"], s["sha256"], s["size"]) for s in listed] == [
        (ack["version"], sha256(database), len(database))
    ]

    again = run_push(live_server, path, "--device", "script-db")
    assert again.returncode == 0, again.stderr
    assert acks(again.stdout)[0]["stored"] == "unchanged"
    assert len(snapshots(live_server, "script-db")) == 1


def make_data_folder(root: Path) -> dict[str, bytes]:
    files = {
        "cordiax.db": encrypted_database(128 * 1024, seed=72),
        "documentos/factura 1.pdf": b"%PDF-1.7 factura",
        "documentos/2024/enero.pdf": b"%PDF-1.7 enero",
        "pdfs/recibo.pdf": b"%PDF-1.7 recibo",
    }
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    # Cordiax keeps its sync settings (passwords) in the same folder: they must not travel.
    (root / "sync_config.json").write_text('{"webdav": {"password": "secret"}}')
    return files


def test_a_data_folder_is_pushed_as_a_zip_bundle(live_server, tmp_path):
    folder = tmp_path / "_SuperCordiax"
    files = make_data_folder(folder)

    result = run_push(live_server, folder, "--device", "script-folder")

    assert result.returncode == 0, result.stderr
    [ack] = acks(result.stdout)
    assert ack["kind"] == "zip" and ack["encrypted"] == "yes"
    download = requests.get(
        f"{live_server.url}/api/v1/cordiax/devices/script-folder/latest/download",
        headers=live_server.headers,
        timeout=30,
    )
    assert download.status_code == 200 and sha256(download.content) == ack["sha256"]
    with zipfile.ZipFile(io.BytesIO(download.content)) as bundle:
        assert {n: bundle.read(n) for n in bundle.namelist()} == files
    assert [s["sha256"] for s in snapshots(live_server, "script-folder")] == [ack["sha256"]]


def test_a_folder_without_a_database_is_not_pushed(live_server, tmp_path):
    (tmp_path / "documentos").mkdir()
    result = run_push(live_server, tmp_path, "--device", "script-no-db")
    assert result.returncode == 66
    assert "cordiax.db" in result.stderr
    assert snapshots(live_server, "script-no-db") == []


def test_a_wrong_token_exits_1(live_server, tmp_path):
    path = tmp_path / "cordiax.db"
    path.write_bytes(encrypted_database(4096, seed=73))

    result = run_push(live_server, path, "--device", "script-bad-token", token="sa_not-a-token")

    assert result.returncode == 1
    assert "sync_error: unauthorized" in result.stderr
    assert "sa_not-a-token" not in result.stderr + result.stdout
    assert snapshots(live_server, "script-bad-token") == []


def test_a_refused_snapshot_exits_1(live_server, tmp_path):
    path = tmp_path / "empty.db"
    path.write_bytes(b"")
    result = run_push(live_server, path, "--device", "script-empty")
    assert result.returncode == 1
    assert "sync_error: empty" in result.stderr
    assert snapshots(live_server, "script-empty") == []


def test_an_unreachable_server_exits_2(tmp_path):
    path = tmp_path / "cordiax.db"
    path.write_bytes(encrypted_database(1024))
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--url", f"http://127.0.0.1:{free_port()}", str(path)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        env=script_env(),
        check=False,
    )
    assert result.returncode == 2
    assert "cannot reach" in result.stderr


class EventListener:
    """A dashboard's view of /events: a token-authenticated python-socketio client."""

    NAMES = ("cordiax_connected", "cordiax_disconnected", "cordiax_snapshot", "cordiax_error")

    def __init__(self, server: LiveServer) -> None:
        self.events: queue.Queue = queue.Queue()
        self.seen: list[dict] = []
        self.sio = socketio.Client(reconnection=False)
        for name in self.NAMES:
            self.sio.on(name, self.events.put, namespace="/events")
        self.sio.connect(
            f"{server.url}?token={server.token}", namespaces=["/events"], wait_timeout=30
        )

    def wait_for(self, event: str, device: str, timeout: float = 60) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            for body in self.seen:
                if body.get("event") == event and body.get("device") == device:
                    return body
            self.seen.append(self.events.get(timeout=max(deadline - time.monotonic(), 0.01)))

    def close(self) -> None:
        self.sio.disconnect()


def test_a_push_reaches_the_live_log_on_events(live_server, tmp_path):
    database = sqlite_database(64 * 1024, seed=74)
    path = tmp_path / "cordiax.db"
    path.write_bytes(database)
    listener = EventListener(live_server)
    try:
        result = run_push(live_server, path, "--device", "script-live")
        snapshot = listener.wait_for("cordiax_snapshot", "script-live")
        listener.wait_for("cordiax_disconnected", "script-live")
    finally:
        listener.close()

    assert result.returncode == 0, result.stderr
    [ack] = acks(result.stdout)
    assert snapshot["version"] == ack["version"] and snapshot["sha256"] == sha256(database)
    assert snapshot["size"] == len(database) and snapshot["kind"] == "sqlite"
    assert snapshot["encrypted"] is False and snapshot["created"] is True
    assert snapshot["time"].endswith("Z") and snapshot["received_at"].endswith("Z")
    order = [b["event"] for b in listener.seen if b.get("device") == "script-live"]
    assert order == ["cordiax_connected", "cordiax_snapshot", "cordiax_disconnected"]


class Lines:
    """A subprocess's stdout, read line by line in a thread so the test can wait on it."""

    def __init__(self, stream) -> None:
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream) -> None:
        for line in stream:
            self.lines.append(line)

    def acks(self) -> list[dict[str, str]]:
        return acks("".join(self.lines))


def test_watch_pushes_each_change_and_ctrl_c_exits_0(live_server, tmp_path):
    first, second = sqlite_database(100 * 1024, seed=75), sqlite_database(120 * 1024, seed=76)
    path = tmp_path / "cordiax.db"
    path.write_bytes(first)
    process = subprocess.Popen(
        command(live_server, path, "--device", "script-watch", "--watch"),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=script_env(),
    )
    try:
        out = Lines(process.stdout)
        wait_until(lambda: len(out.acks()) >= 1, 60, "the first push")
        path.write_bytes(second)  # another size: seen even where mtimes are coarse
        wait_until(lambda: len(out.acks()) >= 2, 60, "the push after the change")
        process.send_signal(signal.SIGINT)
        assert process.wait(30) == 0, process.stderr.read()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)

    assert [a["sha256"] for a in out.acks()] == [sha256(first), sha256(second)]
    listed = snapshots(live_server, "script-watch")
    assert [s["sha256"] for s in listed] == [sha256(second), sha256(first)]
