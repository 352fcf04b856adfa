"""Hostile clients of issue 18, as raw sockets: half-sent request heads, idle anonymous engine.io
WebSockets and permessage-deflate bombs. Shared by tests/hostile and bench/hostile.py.

Every opener returns the socket it holds open (the attack is that it stays open) and never
reads more than the answer to its upgrade.
"""

from __future__ import annotations

import base64
import contextlib
import os
import socket
import struct
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from pathlib import Path

#: what one deflate bomb inflates to (the issue's clients: 194 KB on the wire, 200 MB inflated)
BOMB_SIZE = 200 * 1024 * 1024


@dataclass(frozen=True)
class Address:
    host: str
    port: int
    #: the hostile clients' own address (127.0.N.1): behind nginx, limit_conn counts per address
    source: str = "127.0.0.1"

    def connect(self) -> socket.socket:
        sock = socket.create_connection(
            (self.host, self.port), timeout=60, source_address=(self.source, 0)
        )
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        return sock


def partial_head(address: Address) -> tuple[socket.socket, str]:
    """A request line and some headers, then nothing: the head never ends."""
    sock = address.connect()
    sock.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: hostile\r\n")
    return sock, ""


def _upgrade(address: Address, *, deflate: bool) -> tuple[socket.socket, str]:
    """An anonymous engine.io WebSocket upgrade (no token, no cookie); returns the answer's head."""
    sock = address.connect()
    key = base64.b64encode(os.urandom(16)).decode()
    extensions = "Sec-WebSocket-Extensions: permessage-deflate\r\n" if deflate else ""
    sock.sendall(
        (
            "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n"
            f"Host: {address.host}:{address.port}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n{extensions}\r\n"
        ).encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(4096)
        if not chunk:
            break
        head += chunk
    return sock, head.split(b"\r\n\r\n", 1)[0].decode("latin-1")


def idle_engineio(address: Address) -> tuple[socket.socket, str]:
    return _upgrade(address, deflate=False)


@cache
def bomb_frame() -> bytes:
    """One masked, compressed (RSV1) text frame that inflates to BOMB_SIZE bytes of zeros."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = bytes(1024 * 1024)
    payload = b"".join(compressor.compress(block) for _ in range(BOMB_SIZE // len(block)))
    payload += compressor.flush(zlib.Z_SYNC_FLUSH)
    payload = payload[:-4]  # RFC 7692: the trailing 00 00 ff ff is left out
    mask = os.urandom(4)
    masked = (
        int.from_bytes(payload, "big")
        ^ int.from_bytes((mask * (len(payload) // 4 + 1))[: len(payload)], "big")
    ).to_bytes(len(payload), "big")
    return bytes([0x80 | 0x40 | 0x1, 0x80 | 127]) + struct.pack("!Q", len(payload)) + mask + masked


def deflate_bomb(address: Address) -> tuple[socket.socket, str]:
    """Offer permessage-deflate; if the upgrade is accepted, send the bomb and stay."""
    sock, head = _upgrade(address, deflate=True)
    if head.startswith("HTTP/1.1 101"):
        with contextlib.suppress(OSError):  # the server closed it: refused, as it should be
            sock.sendall(bomb_frame())
    return sock, head


ATTACKS: dict[str, Callable[[Address], tuple[socket.socket, str]]] = {
    "partial_head": partial_head,
    "idle_engineio": idle_engineio,
    "deflate_bomb": deflate_bomb,
}


def hold(attack: Callable, address: Address, count: int, threads: int = 8) -> list:
    """Open `count` hostile connections from a few threads: [(socket, answer head)]."""
    bomb_frame()  # built once, before the clock of any connection starts

    def one(_: int):
        try:
            return attack(address)
        except OSError:
            return None

    with ThreadPoolExecutor(threads) as pool:
        return [held for held in pool.map(one, range(count)) if held is not None]


def release(held: list) -> None:
    for sock, _ in held:
        sock.close()


def worker_pids(master_pid: int) -> list[int]:
    children = Path(f"/proc/{master_pid}/task/{master_pid}/children")
    return [int(pid) for pid in children.read_text().split()] if children.exists() else []


def memory_kib(pid: int, field: str = "VmHWM") -> int:
    """VmHWM: the process's peak resident set since it started; VmRSS: now."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise LookupError(f"{field} not in /proc/{pid}/status")
