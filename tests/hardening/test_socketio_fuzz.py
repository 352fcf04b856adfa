"""Socket.IO fuzzing against the app under gunicorn (issue 11).

A storm of seeded random, malformed `sync_data` payloads and random event names hits
/cordiax-sync/ and /events while two well-behaved clients stay connected. Afterwards the server is
healthy, every bad push was answered with `sync_error` (and its ack says so), nothing was stored,
and the well-behaved clients still get their events and can still push a good snapshot.
"""

from __future__ import annotations

import io
import queue
import random
import string
import struct
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import socketio

from tests.cordiax.client import CordiaxLikeClient
from tests.cordiax.payloads import cordiax_bundle, encrypted_database, sha256, zip_bundle
from tests.live import LiveServer
from tests.peers.process import wait_until

pytestmark = pytest.mark.e2e

CORDIAX = "/cordiax-sync/"
EVENTS = "/events"
MiB = 1024 * 1024
MAX_SNAPSHOT = 4 * MiB  # small, so "huge" payloads cross the limit without moving 200 MiB
SEED = 20261123
EXAMPLES = 60  # random payloads on top of the fixed corpus: bounded, well under the 2 min budget


# --- payload generators ----------------------------------------------------------------------


def bomb_zip() -> bytes:
    """64 MiB of zeros deflated to ~64 KiB: far beyond the accepted expansion ratio."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bundle:
        bundle.writestr("cordiax.db", bytes(64 * MiB))
    return buffer.getvalue()


def lying_zip() -> bytes:
    """A member whose headers claim 100 bytes while its deflate stream expands to 8 MiB: the
    ratio check cannot see it, only the bounded read during extraction (or the CRC) can."""
    data = bytearray(zip_bundle({"cordiax.db": b"x" * 100, "pdfs/big.pdf": bytes(8 * MiB)}))
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as bundle:
        info = bundle.getinfo("pdfs/big.pdf")
    # local header: uncompressed size at offset 22; central directory entry: at offset 24
    struct.pack_into("<I", data, info.header_offset + 22, 100)
    central = data.find(b"PK\x01\x02")
    while central != -1:
        name_length = struct.unpack_from("<H", data, central + 28)[0]
        if bytes(data[central + 46 : central + 46 + name_length]) == b"pdfs/big.pdf":
            struct.pack_into("<I", data, central + 24, 100)
        central = data.find(b"PK\x01\x02", central + 4)
    return bytes(data)


def deep(depth: int) -> Any:
    nested: Any = "x"
    for _ in range(depth):
        nested = {"data": nested}
    return nested


def fixed_corpus() -> list[tuple[str, Any]]:
    """(label, sync_data argument): one of each kind of bad push the issue names."""
    bundle = cordiax_bundle(seed=3)
    return [
        ("int", 42),
        ("float", 1.5),
        ("bool", True),
        ("list", [1, "2", None]),
        ("empty-dict", {}),
        ("data-null", {"data": None}),
        ("data-int", {"data": 12345}),
        ("data-list", {"data": ["ab", "cd"]}),
        ("data-nested", {"data": {"data": {"data": "00"}}}),
        ("deeply-nested", deep(200)),
        ("empty-hex", {"data": ""}),
        ("empty-bytes", {"data": b""}),
        ("odd-hex", {"data": "abc"}),
        ("non-hex", {"data": "zz" * 1000}),
        ("0x-prefix", {"data": "0x" + "00" * 64}),
        ("unicode-hex", {"data": "é" * 64}),
        ("huge-bad-hex", {"data": "g" * (3 * MiB)}),
        ("huge-hex-over-limit", {"data": "00" * (MAX_SNAPSHOT + 1)}),
        ("huge-bytes-over-limit", {"data": bytes(MAX_SNAPSHOT + 1)}),
        ("truncated-zip-header", {"data": bundle[:30].hex()}),
        ("truncated-zip-middle", {"data": bundle[: len(bundle) // 2].hex()}),
        ("truncated-zip-tail", {"data": bundle[:-1].hex()}),
        ("zip-bomb", {"data": bomb_zip().hex()}),
        ("zip-lying-sizes", {"data": lying_zip().hex()}),
        ("zip-escape", {"data": zip_bundle({"../../etc/evil": b"x"}).hex()}),
        ("zip-absolute", {"data": zip_bundle({"/etc/evil": b"x"}).hex()}),
    ]


def random_text(rng: random.Random, length: int) -> str:
    alphabet = string.printable + "éß漢字\u0000\u202e😀"
    return "".join(rng.choice(alphabet) for _ in range(length))


def random_value(rng: random.Random, depth: int = 0) -> Any:
    """Any JSON-ish value, bytes included (sent as a binary attachment)."""
    kinds = ["int", "float", "str", "bytes", "none", "bool"]
    if depth < 4:
        kinds += ["list", "dict"]
    kind = rng.choice(kinds)
    if kind == "int":
        return rng.randint(-(2**63), 2**63)
    if kind == "float":
        return rng.uniform(-1e308, 1e308)
    if kind == "str":
        return random_text(rng, rng.randint(0, 300))
    if kind == "bytes":
        return rng.randbytes(rng.randint(0, 300))
    if kind == "none":
        return None
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "list":
        return [random_value(rng, depth + 1) for _ in range(rng.randint(0, 5))]
    return {random_text(rng, 8): random_value(rng, depth + 1) for _ in range(rng.randint(0, 5))}


def random_bad_push(rng: random.Random) -> Any:
    """A random push that the protocol must refuse (valid hex of random bytes would be a valid
    encrypted snapshot, so each branch breaks the payload on purpose)."""
    bundle = cordiax_bundle(seed=rng.randint(0, 5))
    choice = rng.randrange(6)
    if choice == 0:  # not a string, not bytes
        value = random_value(rng)
        while isinstance(value, str | bytes | bytearray | dict):
            value = random_value(rng)
        return {"data": value} if rng.random() < 0.5 else value
    if choice == 1:  # hex with a bad character at a random place
        good = rng.randbytes(rng.randint(1, 2000)).hex()
        spot = rng.randrange(len(good))
        return {"data": good[:spot] + rng.choice("gGxXz!é\u0000") + good[spot + 1 :]}
    if choice == 2:  # odd number of hex digits
        return {"data": rng.randbytes(rng.randint(1, 2000)).hex() + "a"}
    if choice == 3:  # a ZIP cut anywhere after its magic
        return {"data": bundle[: rng.randint(4, len(bundle) - 1)].hex()}
    if choice == 4:  # a ZIP with bytes flipped in its central directory
        broken = bytearray(bundle)
        end = broken.rfind(b"PK\x05\x06")
        broken[end + 10 : end + 22] = rng.randbytes(12)
        return {"data": bytes(broken).hex()}
    return {"data": {random_text(rng, 5): random_value(rng)}}  # a dict where hex belongs


# --- clients ---------------------------------------------------------------------------------


class Listener:
    """A plain python-socketio client on both namespaces, recording every event it receives."""

    def __init__(self, server: LiveServer, device: str) -> None:
        self.events: queue.Queue[tuple[str, str, Any]] = queue.Queue()
        self.sio = socketio.Client(reconnection=False)
        self.sio.on("*", self._record, namespace="*")
        self.sio.connect(
            f"{server.url}?token={server.token}&device={device}",
            namespaces=[CORDIAX, EVENTS],
            wait_timeout=30,
        )

    def _record(self, event: str, namespace: str, *args: Any) -> None:
        self.events.put((namespace, event, args[0] if args else None))

    def drain(self) -> list[tuple[str, str, Any]]:
        found = []
        while not self.events.empty():
            found.append(self.events.get_nowait())
        return found

    def wait_for(
        self, match: Callable[[str, str, Any], bool], timeout: float = 30
    ) -> tuple[str, str, Any]:
        """The first recorded event that matches (those before it are dropped)."""
        while True:
            namespace, event, body = self.events.get(timeout=timeout)
            if match(namespace, event, body):
                return namespace, event, body

    def close(self) -> None:
        self.sio.disconnect()


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory) -> Iterator[LiveServer]:
    server = LiveServer(
        tmp_path_factory.mktemp("socketio-fuzz"),
        env={"SYNCAPP_CORDIAX_MAX_SNAPSHOT_SIZE": str(MAX_SNAPSHOT)},
    )
    server.prepare()
    server.start()
    yield server
    server.stop()


def stored(server: LiveServer) -> list[str]:
    root = Path(server.env["SYNCAPP_INSTANCE_PATH"]) / "cordiax"
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def devices(server: LiveServer) -> list[dict]:
    response = requests.get(
        f"{server.url}/api/v1/cordiax/devices", headers=server.headers, timeout=30
    )
    assert response.status_code == 200
    return response.json()


def healthy(server: LiveServer) -> bool:
    response = requests.get(f"{server.url}/api/v1/health", timeout=30)
    return response.status_code == 200 and response.json()["status"] == "ok"


# --- the storm -------------------------------------------------------------------------------


def test_malformed_sync_data_is_refused_and_stores_nothing(fuzz_server):
    """Every bad push: a `sync_error`, an error ack, and no file or row; bystanders unaffected."""
    bystander = Listener(fuzz_server, "bystander")
    storm = Listener(fuzz_server, "storm")
    try:
        before_files, before_devices = stored(fuzz_server), devices(fuzz_server)
        rng = random.Random(SEED)
        pushes = fixed_corpus() + [(f"random-{n}", random_bad_push(rng)) for n in range(EXAMPLES)]
        answers = {}
        for label, payload in pushes:
            answers[label] = storm.sio.call("sync_data", payload, namespace=CORDIAX, timeout=60)
        answers["two-arguments"] = storm.sio.call(
            "sync_data", ({"data": "00" * 64}, "extra"), namespace=CORDIAX, timeout=60
        )
        pushes.append(("two-arguments", None))
        wrong = {
            k: v
            for k, v in answers.items()
            if not (isinstance(v, dict) and v.get("status") == "error")
        }
        assert wrong == {}
        assert all(a["error"] and a["message"] for a in answers.values())
        # the expected refusal for the cases whose code is certain
        assert answers["data-int"]["error"] == "bad_payload"
        assert answers["non-hex"]["error"] == "bad_hex"
        assert answers["empty-hex"]["error"] == "empty"
        assert answers["huge-hex-over-limit"]["error"] == "too_large"
        assert answers["huge-bytes-over-limit"]["error"] == "too_large"
        assert answers["truncated-zip-tail"]["error"] == "bad_zip"
        assert answers["zip-bomb"]["error"] == "zip_bomb"
        assert answers["zip-lying-sizes"]["error"] in {"zip_bomb", "bad_zip"}
        assert answers["zip-escape"]["error"] == "unsafe_zip"
        assert answers["two-arguments"]["error"] == "bad_request"

        # each refusal also came as a sync_error event, to the pusher only
        def errors_of(listener: Listener) -> Callable[[], bool]:
            return lambda: (
                sum(
                    1
                    for ns, ev, _ in list(listener.events.queue)
                    if ns == CORDIAX and ev == "sync_error"
                )
                >= len(pushes)
            )

        wait_until(errors_of(storm), timeout=30, what="a sync_error for every bad push")
        assert [e for e in bystander.drain() if e[1] == "sync_error"] == []

        assert stored(fuzz_server) == before_files
        assert devices(fuzz_server) == before_devices
        assert healthy(fuzz_server)
    finally:
        storm.close()
        bystander.close()


def random_event_name(rng: random.Random) -> str:
    # sync_data is left out: random bytes are a valid (encrypted) snapshot, the test above
    # covers that event with payloads that must be refused
    reserved = ["connect", "disconnect", "message", "sync_ack", "sync_error",
                "sync_request", "ping", "pong", "error", "connect_error", "__init__", "on_connect",
                "trigger_event", "_refuse", ""]  # fmt: skip
    return rng.choice(reserved) if rng.random() < 0.4 else random_text(rng, rng.randint(1, 60))


def test_random_events_on_both_namespaces_leave_the_server_and_others_working(fuzz_server):
    """Random event names with random arguments (several at once too): each is answered or
    ignored, the server stays healthy, and a client connected before the storm still receives
    its live events and stores a good snapshot afterwards."""
    bystander = Listener(fuzz_server, "calm-device")
    rng = random.Random(SEED + 1)
    try:
        before_files = stored(fuzz_server)
        answers = 0
        for _ in range(EXAMPLES):
            storm = Listener(fuzz_server, "storm-events")
            try:
                for _ in range(10):
                    name = random_event_name(rng)
                    arguments = tuple(random_value(rng) for _ in range(rng.randint(0, 3)))
                    namespace = rng.choice([CORDIAX, EVENTS])
                    if namespace not in storm.sio.namespaces:
                        break  # the server closed it on purpose (a "connect" with a bad token)
                    try:
                        answer = storm.sio.call(name, arguments, namespace=namespace, timeout=30)
                    except socketio.exceptions.TimeoutError:
                        assert namespace not in storm.sio.namespaces, (name, arguments)
                        break
                    answers += 1
                    # an unknown event is acknowledged empty; a handler that cannot take these
                    # arguments answers an error body instead of leaving the caller waiting
                    assert answer is None or isinstance(answer, dict), (name, answer)
                    if isinstance(answer, dict) and answer.get("status") == "error":
                        assert answer["error"] == "bad_request", answer
                    if name in ("connect", "disconnect"):  # never reaches those handlers
                        assert answer["error"] == "bad_request", answer
                # the connection still answers, unless the server closed it on purpose
                if EVENTS in storm.sio.namespaces:
                    pong = storm.sio.call("ping", namespace=EVENTS, timeout=30)
                    assert pong["pong"] is True
            finally:
                storm.close()
        assert answers > EXAMPLES * 5  # most events were answered, not cut short
        assert healthy(fuzz_server)
        assert stored(fuzz_server) == before_files

        # the bystander: still connected on both namespaces, still answered
        assert set(bystander.sio.namespaces) == {CORDIAX, EVENTS}
        assert bystander.sio.call("ping", namespace=EVENTS, timeout=30)["pong"] is True
        good = encrypted_database(64 * 1024, seed=SEED)
        ack = bystander.sio.call("sync_data", {"data": good.hex()}, namespace=CORDIAX, timeout=60)
        assert ack["status"] == "ok" and ack["sha256"] == sha256(good)
        _, _, live = bystander.wait_for(
            lambda ns, ev, body: (
                ns == EVENTS and ev == "cordiax_snapshot" and body.get("device") == "calm-device"
            )
        )
        assert live["sha256"] == sha256(good) and live["created"] is True
    finally:
        bystander.close()


def raw_packets() -> list[str]:
    """Socket.IO packets no well-behaved client sends: broken JSON, unknown types, deep nesting,
    binary events whose attachments never come."""
    return [
        '2/cordiax-sync/,["sync_data",',
        '2/cordiax-sync/,{"sync_data":1}',
        "2/cordiax-sync/,[]",
        "2/cordiax-sync/,[1,2,3]",
        '2/cordiax-sync/,["sync_data",' + "[" * 100_000 + "]" * 100_000 + "]",
        '2/events,["ping",' + '{"a":' * 50_000 + "1" + "}" * 50_000 + "]",
        '27/events,["ping"]',
        '2/nowhere,["sync_data",{}]',
        "4/cordiax-sync/,{}",
        "9garbage",
        "",
        '51-/cordiax-sync/,["sync_data",{"_placeholder":true,"num":7}]',
        '2/cordiax-sync/,["sync_data",{"data":"' + "0" * 1001 + '"}]',
    ]


def test_malformed_packets_never_take_the_server_down(fuzz_server):
    """Raw, malformed Socket.IO packets on a fresh connection each: whatever becomes of that
    connection, the server stays healthy, stores nothing, and a Cordiax client can still push."""
    bystander = Listener(fuzz_server, "raw-bystander")
    try:
        before_files = stored(fuzz_server)
        for packet in raw_packets():
            raw = socketio.Client(reconnection=False)
            raw.connect(
                f"{fuzz_server.url}?token={fuzz_server.token}&device=raw",
                namespaces=[CORDIAX, EVENTS],
                wait_timeout=30,
            )
            try:
                raw.eio.send(packet)
            finally:
                raw.disconnect()
        assert healthy(fuzz_server)
        assert stored(fuzz_server) == before_files
        assert bystander.sio.call("ping", namespace=EVENTS, timeout=30)["pong"] is True
        good = encrypted_database(32 * 1024, seed=SEED + 2)
        client = CordiaxLikeClient(good).connect(
            f"{fuzz_server.url}?token={fuzz_server.token}&device=after-raw"
        )
        try:
            assert client.next_ack()["sha256"] == sha256(good)
        finally:
            client.close()
    finally:
        bystander.close()
