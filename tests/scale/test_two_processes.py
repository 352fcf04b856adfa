"""Issue 10: two syncapp processes behind nginx act as one deployment.

Real PostgreSQL, Redis, moto S3 and nginx (tests/scale/cluster.py starts them once for the
module). Every test proves which process served each of its clients from nginx's access log, so
"through the other process" is a fact, not a hope.
"""

from __future__ import annotations

import hashlib
import io
import json
import queue
import random
import threading
import time
from datetime import timedelta

import pytest
import requests
import socketio

from tests.backups.helpers import make_archive, md5
from tests.cordiax.payloads import sqlite_database
from tests.peers.process import wait_until
from tests.scale.cluster import (
    COUNTED_JOB,
    JOB_INTERVAL,
    LOGIN_LIMIT,
    Cluster,
    websocket_through,
)

pytestmark = [pytest.mark.peer, pytest.mark.e2e]


def test_nginx_sends_chosen_clients_to_each_process(cluster: Cluster):
    first, second = cluster.nodes
    ip_first, ip_second = cluster.source_for(first), cluster.source_for(second)
    assert ip_first != ip_second
    for ip, node in ((ip_first, first), (ip_second, second)):
        with cluster.session(node) as session:
            assert session.get(f"{cluster.nginx.url}/api/v1/status", timeout=10).ok
        assert cluster.served(ip) == {cluster.upstream(node)}  # ip_hash keeps it there


def test_rate_limits_count_a_client_across_both_processes(cluster: Cluster):
    """ratelimit.storage_uri on Redis: attempts through one process count in the other. The
    processes are called directly with the X-Forwarded-For nginx would send (trusted_proxies=1):
    through nginx, ip_hash would keep one client on one process."""
    first, second = cluster.nodes
    client, other = (f"203.0.113.{n}" for n in random.sample(range(1, 255), 2))

    def login(node, address: str) -> int:
        reply = requests.post(
            f"{node.url}/auth/login",
            json={"email": "live@example.com", "password": "wrong-password"},
            headers={"X-Forwarded-For": address},
            timeout=30,
        )
        return reply.status_code

    assert [login(first, client) for _ in range(LOGIN_LIMIT)] == [401] * LOGIN_LIMIT
    assert login(second, client) == 429  # the other process knows this client's attempts
    assert login(second, other) == 401  # and counts per client, not per proxy


def test_a_token_revoked_through_one_process_is_refused_by_the_other_at_once(cluster: Cluster):
    """Each process reads the token from the database on every request: no cache in the
    other process keeps a revoked token working, whatever the relay is doing."""
    first, second = cluster.nodes
    created = requests.post(
        f"{first.url}/api/v1/tokens",
        headers=cluster.headers,
        json={"name": f"revoked-{random.randrange(10**9)}"},
        timeout=30,
    )
    assert created.status_code == 201, created.text
    raw, token_id = created.json()["token"], created.json()["id"]
    mine = {"Authorization": f"Bearer {raw}"}
    for node in (first, second):  # both have answered it once
        assert requests.get(f"{node.url}/api/v1/syncs", headers=mine, timeout=30).ok
    revoked = requests.delete(f"{first.url}/api/v1/tokens/{token_id}", headers=mine, timeout=30)
    assert revoked.status_code == 204
    for node in (second, first):
        assert requests.get(f"{node.url}/api/v1/syncs", headers=mine, timeout=30).status_code == 401


def test_a_backup_uploaded_through_one_process_is_listed_and_downloaded_through_the_other(
    cluster: Cluster,
):
    first, second = cluster.nodes
    data = make_archive(seed=1010, size=300_000)
    name = "full_2026-01-02_03-04-05.tar.gz"
    with cluster.session(first) as uploader:
        reply = uploader.post(
            f"{cluster.nginx.url}/upload",
            files={"file": (name, io.BytesIO(data), "application/gzip")},
            data={"type": "FULL", "profile": "scale"},
            timeout=60,
        )
    assert reply.status_code == 201, reply.text
    assert (reply.json()["md5"], reply.json()["duplicate"]) == (md5(data), False)

    with cluster.session(second) as reader:
        listing = reader.get(f"{cluster.nginx.url}/list", params={"profile": "scale"}, timeout=30)
        assert listing.status_code == 200, listing.text
        assert listing.json()["total_count"] == 1
        assert name in json.dumps(listing.json()["backups"])
        download = reader.get(f"{cluster.nginx.url}/download/FULL/{name}", timeout=60)
    assert download.status_code == 200
    assert hashlib.md5(download.content).hexdigest() == md5(data)

    assert cluster.served(cluster.source_for(first)) == {cluster.upstream(first)}
    assert cluster.served(cluster.source_for(second)) == {cluster.upstream(second)}


class Frames:
    """Reads a /api/v1/ws client's JSON frames in a thread, so a test waits with a deadline
    (a blocking recv would wait forever: the server's pings keep the socket busy)."""

    def __init__(self, ws) -> None:
        self.ws = ws
        self.queue: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        try:
            while True:
                self.queue.put(json.loads(self.ws.recv()))
        except Exception as exc:  # closed at the end of the test, or broken: stop reading
            self.queue.put({"event": "reader_stopped", "error": repr(exc)})

    def next(self, timeout: float = 60) -> dict:
        return self.queue.get(timeout=timeout)

    def until(self, last_event: str, timeout: float = 60) -> list[dict]:
        """The frames up to and including `last_event`, which must come within `timeout`."""
        deadline = time.monotonic() + timeout
        frames: list[dict] = []
        while True:
            try:
                frame = self.queue.get(timeout=max(deadline - time.monotonic(), 0))
            except queue.Empty:
                raise AssertionError(
                    f"{last_event} never came: {[f.get('event') for f in frames]}"
                ) from None
            frames.append(frame)
            if frame.get("event") in (last_event, "reader_stopped"):
                assert frame["event"] == last_event, frames
                return frames


def test_a_cordiax_push_to_one_process_reaches_clients_of_the_other(cluster: Cluster):
    first, second = cluster.nodes
    payload = sqlite_database(64 * 1024, seed=1011)
    digest = hashlib.sha256(payload).hexdigest()

    # A browser's Socket.IO client on /events, served by the second process.
    seen: queue.Queue = queue.Queue()
    browser = cluster.events_client(second)
    browser.on("cordiax_snapshot", seen.put, namespace="/events")
    # Plain WebSocket clients (/api/v1/ws) on both processes: the event reaches each once.
    ws_second = websocket_through(cluster, second)
    ws_first = websocket_through(cluster, first)
    # The Cordiax desktop client, served by the first process.
    cordiax = socketio.Client(reconnection=False, http_session=cluster.session(first))
    acks: queue.Queue = queue.Queue()
    cordiax.on("sync_ack", acks.put, namespace="/cordiax-sync/")
    try:
        browser.connect(cluster.nginx.url, namespaces=["/events"], transports=["polling"],
                        auth={"token": cluster.token}, wait_timeout=30)  # fmt: skip
        readers = [Frames(ws) for ws in (ws_second, ws_first)]
        for reader in readers:
            assert reader.next()["event"] == "connected"

        cordiax.connect(f"{cluster.nginx.url}?token={cluster.token}", namespaces=["/cordiax-sync/"],
                        transports=["polling"], wait_timeout=30)  # fmt: skip
        cordiax.emit("sync_data", {"data": payload.hex()}, namespace="/cordiax-sync/")
        assert acks.get(timeout=60)["sha256"] == digest

        announced = seen.get(timeout=60)
        assert (announced["sha256"], announced["created"]) == (digest, True)
        cordiax.disconnect()  # publishes cordiax_disconnected after the snapshot, in order
        for reader in readers:
            received = reader.until("cordiax_disconnected")
            snapshots = [f for f in received if f.get("event") == "cordiax_snapshot"]
            assert [s["sha256"] for s in snapshots] == [digest]  # once: never duplicated
    finally:
        for client in (cordiax, browser):
            client.disconnect()
        ws_first.close()
        ws_second.close()

    # Who served whom: the push went to the first process, every listener of the second
    # process was served by the second (the Socket.IO polls and the WebSocket upgrade).
    assert cluster.served(cluster.source_for(first)) == {cluster.upstream(first)}
    assert cluster.served(cluster.source_for(second)) == {cluster.upstream(second)}
    upgrades = [
        (client, upstream)
        for client, upstream, request, status in cluster.nginx.log_lines()
        if request.startswith("GET /api/v1/ws") and status == "101"
    ]
    assert (cluster.source_for(second), cluster.upstream(second)) in upgrades
    assert (cluster.source_for(first), cluster.upstream(first)) in upgrades
    polls = [
        request
        for client, _, request, _ in cluster.nginx.log_lines()
        if client == cluster.source_for(first) and "/socket.io/" in request
    ]
    assert polls, "the Cordiax client's requests must be in nginx's log"


def test_a_sync_job_forced_through_the_follower_runs_on_the_leader(cluster: Cluster):
    leader, follower = cluster.leader()
    assert cluster.status(follower)["scheduler"]["dispatcher_running"] is False
    source, target = cluster.sync_root / "forced" / "src", cluster.sync_root / "forced" / "dst"
    source.mkdir(parents=True)
    target.mkdir(parents=True)
    (source / "first.txt").write_text("first")
    with cluster.session(follower) as api:
        base = f"{cluster.nginx.url}/api/v1/syncs"
        created = api.post(
            base,
            json={"name": "forced", "source_path": str(source),
                  "destination_path": str(target), "sync_interval": 86400},
            timeout=30,
        )  # fmt: skip
        assert created.status_code == 201, created.text
        job_id = created.json()["id"]

        def runs() -> list[dict]:
            return api.get(f"{base}/{job_id}/history", timeout=30).json()["runs"]

        def finished(reason: str) -> bool:
            return any(r["reason"] == reason and r["finished_at"] for r in runs())

        # A new job runs once at once (on the leader); the next scheduled run is a day away.
        wait_until(lambda: (target / "first.txt").exists(), 60, "the first run")
        wait_until(lambda: all(r["finished_at"] for r in runs()), 60, "the first run to end")
        (source / "second.txt").write_text("second")
        assert api.post(f"{base}/{job_id}/force", timeout=30).status_code == 202
        wait_until(lambda: finished("force"), 60, "the forced run")
    assert (target / "second.txt").read_text() == "second"
    # Only the leader runs sync jobs: the follower, which took the request, has no dispatcher.
    assert cluster.status(follower)["scheduler"]["dispatcher_running"] is False
    assert cluster.status(leader)["scheduler"]["dispatcher_running"] is True
    assert cluster.served(cluster.source_for(follower)) == {cluster.upstream(follower)}


def _runs(cluster: Cluster, since) -> list[tuple]:
    return cluster.query(
        "SELECT pid, started_at FROM scheduled_runs WHERE job_id = %s AND started_at >= %s"
        " ORDER BY started_at",
        COUNTED_JOB,
        since,
    )


def test_scheduled_jobs_run_once_per_interval_and_the_follower_takes_over(cluster: Cluster):
    leader, follower = cluster.leader()
    leader_pid = cluster.status(leader)["pid"]
    follower_pid = cluster.status(follower)["pid"]
    [(since,)] = cluster.query("SELECT now()")
    wait_until(lambda: len(_runs(cluster, since)) >= 5, 60, "five scheduled runs")
    runs = _runs(cluster, since)
    # Both processes are up: every run came from the leader, one per interval (no duplicate).
    assert {pid for pid, _ in runs} == {leader_pid}
    # One scheduler spreads 5 runs over 4 intervals (3 if one run started late on a busy
    # machine); a second scheduler, in any phase, would squeeze them into 2.
    span = (runs[4][1] - runs[0][1]).total_seconds()
    assert span >= 3 * JOB_INTERVAL, runs
    # Operators see it: any process's /api/v1/status names the process that ran each job.
    last = cluster.status(follower)["scheduled_jobs"][COUNTED_JOB]
    assert last["pid"] == leader_pid

    try:
        leader.process.kill()  # SIGKILL: no clean-up, PostgreSQL drops its session
        [(killed_at,)] = cluster.query("SELECT now()")
        wait_until(
            lambda: any(pid == follower_pid for pid, _ in _runs(cluster, killed_at)),
            60,
            "the follower to run the job",
        )
        taken_over = [(pid, at) for pid, at in _runs(cluster, killed_at)]
        first_after = taken_over[0]
        assert first_after[0] == follower_pid
        # Within two intervals of the kill (database clock, measured on the recorded runs).
        assert first_after[1] - killed_at <= timedelta(seconds=2 * JOB_INTERVAL), taken_over
        assert cluster.status(follower)["scheduler"]["role"] == "leader"
    finally:
        leader.process.start()  # back as a follower, for the other tests of the module
        cluster.warm_up()
    assert cluster.leader() == (follower, leader)
