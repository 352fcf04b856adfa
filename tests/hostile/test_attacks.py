"""Issue 18: while 1,000 hostile connections of one kind are held open (half-sent heads, idle
anonymous engine.io WebSockets, permessage-deflate bombs), a user's GET /api/v1/documents and
public health answer, a Cordiax client's 10 MiB push is acknowledged and the worker stays
under 400 MiB; once they leave, everything serves as before, without a restart.

Replayed against the embedded server (64 threads: fewer than the attackers) and against two
processes (24 threads each) behind the shipped nginx.conf. The hostile clients come from their
own address behind nginx (its limit_conn counts per address), like an attacker's would.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.cordiax.client import CordiaxLikeClient
from tests.cordiax.payloads import encrypted_database, sha256
from tests.hostile.attacks import ATTACKS, Address, hold, memory_kib, release, worker_pids
from tests.live import LiveServer
from tests.peers.process import wait_until

HOSTILE = 1000
PUSH_SIZE = 10 * 1024 * 1024
RSS_LIMIT_KIB = 400 * 1024


@dataclass
class Setup:
    url: str
    token: str
    hostile: Address
    masters: list[int]
    logs: list[Path]

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def workers(self) -> list[int]:
        return [pid for master in self.masters for pid in worker_pids(master)]


@pytest.fixture(scope="module")
def embedded(tmp_path_factory) -> Iterator[Setup]:
    server = LiveServer(tmp_path_factory.mktemp("hostile"), threads=64)
    server.prepare()
    server.start()
    try:
        yield Setup(
            server.url,
            server.token,
            Address("127.0.0.1", server.port),
            [server.process.proc.pid],
            [server.process.log_path],
        )
    finally:
        server.stop()


@pytest.fixture(scope="module")
def proxied(cluster) -> Setup:
    return Setup(
        cluster.nginx.url,
        cluster.token,
        Address("127.0.0.1", cluster.nginx.port, source="127.0.77.1"),
        [node.process.proc.pid for node in cluster.nodes],
        [node.process.log_path for node in cluster.nodes],
    )


@pytest.fixture(params=["embedded", "proxied"])
def setup(request) -> Setup:
    return request.getfixturevalue(request.param)


def users_are_served(setup: Setup) -> None:
    # Generous client timeouts: the assertion is that they answer at all (timings: bench/).
    documents = requests.get(f"{setup.url}/api/v1/documents", headers=setup.headers, timeout=60)
    assert documents.status_code == 200, documents.text[:300]
    health = requests.get(f"{setup.url}/api/v1/health", timeout=60)
    assert health.status_code == 200, health.text[:300]
    assert health.json()["status"] == "ok"


def push_is_acknowledged(setup: Setup, device: str) -> None:
    payload = encrypted_database(PUSH_SIZE, seed=len(device))
    client = CordiaxLikeClient(payload).connect(f"{setup.url}?token={setup.token}&device={device}")
    try:
        ack = client.next_ack(timeout=180)
    finally:
        client.close()
    assert ack["sha256"] == sha256(payload)
    assert ack["size"] == PUSH_SIZE


@pytest.mark.parametrize("kind", list(ATTACKS))
def test_users_are_served_while_hostile_clients_hold_connections(setup, kind):
    held = hold(ATTACKS[kind], setup.hostile, HOSTILE)
    try:
        assert len(held) == HOSTILE  # every hostile connection was accepted and is open
        users_are_served(setup)
        push_is_acknowledged(setup, f"under-{kind}")
        if kind != "partial_head":
            statuses = {head.split(" ", 2)[1] for _, head in held}
            # anonymous upgrades: a few wait to authenticate, the rest are refused outright
            assert statuses <= {"101", "401", "429"}, statuses
            # and none of them got permessage-deflate
            assert not any("permessage-deflate" in head.lower() for _, head in held)
        if kind == "deflate_bomb":
            peaks = {pid: memory_kib(pid) for pid in setup.workers()}
            assert peaks and max(peaks.values()) < RSS_LIMIT_KIB, peaks
    finally:
        release(held)
    users_are_served(setup)


#: engine.io v4 polling: packets separated by \x1e, binary ones as "b" + base64
NESTED = "42" + "[" * 20000
BAD_ATTACHMENT = '451-["x",{"_placeholder":true,"num":9}]\x1ebAAAA'


@pytest.mark.parametrize("packet", [NESTED, BAD_ATTACHMENT], ids=["nested", "binary"])
def test_a_packet_that_does_not_parse_is_one_log_line(embedded, packet):
    log = embedded.logs[0]
    start = log.stat().st_size
    session = requests.Session()
    opened = session.get(f"{embedded.url}/socket.io/?EIO=4&transport=polling", timeout=30)
    assert opened.status_code == 200, opened.text
    sid = json.loads(opened.text[opened.text.index("{") :])["sid"]
    url = f"{embedded.url}/socket.io/?EIO=4&transport=polling&sid={sid}"
    assert session.post(url, data="40", timeout=30).status_code == 200
    session.post(url, data=packet, timeout=30)

    def logged() -> str:
        return log.read_bytes()[start:].decode(errors="replace")

    wait_until(lambda: "does not parse" in logged() or "Traceback" in logged(), 30, "a log line")
    assert "Traceback" not in logged()
    assert logged().count("does not parse") == 1
