"""A client still sending a push is alive: its late PONG does not close its session
(syncapp/socket_guard.py: HeardServer, ClientHeard)."""

from __future__ import annotations

import os
import socket
import threading
import time

import engineio
import pytest
from engineio import packet
from engineio.socket import Socket

from syncapp.config import SPEC
from syncapp.socket_guard import ClientHeard, HeardServer


@pytest.fixture
def session():
    """An engine.io session of a server with syncapp's ping timeout, connected, no PING out."""
    server = engineio.Server(async_mode="threading", ping_timeout=60)
    s = Socket(server, "sid-1")
    s.connected = True
    s.last_ping = None  # as after engine.io's schedule_ping(): the first PING comes later
    return s


def overdue(s: Socket) -> None:
    """A PING went out longer ago than the server waits for its PONG."""
    s.last_ping = time.time() - s.server.ping_timeout - 5


def queued(s: Socket) -> list[int]:
    types = []
    while not s.queue.empty():
        types.append(s.queue.get_nowait().packet_type)
    return types


def test_the_default_ping_timeout_leaves_room_for_a_pong_behind_a_push():
    # python-socketio's client gives up after max(25, timeout) + 5 s with nothing to send; its
    # PONGs come 25 s apart plus the time the server takes to read up to them
    assert SPEC["socketio"]["ping_timeout"][1] >= 60


def test_an_overdue_pong_closes_a_silent_session(session):
    overdue(session)
    assert session.check_ping_timeout() is False
    assert session.closed


def test_bytes_arriving_keep_a_session_with_an_overdue_pong(session):
    overdue(session)
    ClientHeard(session)()
    assert session.check_ping_timeout() is True
    assert not session.closed and not session.closing


def test_a_session_is_closed_once_the_bytes_stop(session):
    heard = ClientHeard(session)
    overdue(session)
    heard()
    assert session.check_ping_timeout() is True
    # then nothing for longer than the timeout (the deadline the last bytes set, moved back)
    session.last_ping -= session.server.ping_timeout + 1
    assert session.check_ping_timeout() is False
    assert session.closed


def test_without_a_ping_out_bytes_change_nothing(session):
    ClientHeard(session)()
    assert session.last_ping is None
    assert queued(session) == []


def test_another_ping_goes_out_each_ping_interval_while_the_pong_is_held_up(session):
    heard = ClientHeard(session)
    session.last_ping = time.time() - 1  # a recent PING: the client heard something lately
    heard()
    assert queued(session) == []
    session.last_ping = time.time() - session.server.ping_interval - 1  # a new, older PING
    heard()
    heard()  # more bytes at once: one PING, not one per read
    assert queued(session) == [packet.PING]


def test_a_closing_session_is_left_alone(session):
    overdue(session)
    pinged = session.last_ping
    session.closing = True
    ClientHeard(session)()
    assert session.last_ping == pinged
    assert queued(session) == []


def _masked_text_frame(payload: bytes, final: bool) -> bytes:
    """A client's WebSocket text frame (RFC 6455: clients mask), payload under 126 bytes."""
    mask = os.urandom(4)
    body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return bytes([(0x80 if final else 0) | 0x1, 0x80 | len(payload)]) + mask + body


def test_the_websocket_reports_bytes_of_a_message_not_yet_complete():
    ours, theirs = socket.socketpair()
    environ = {
        "gunicorn.socket": ours,
        "HTTP_HOST": "localhost",
        "HTTP_UPGRADE": "websocket",
        "HTTP_CONNECTION": "Upgrade",
        "HTTP_SEC_WEBSOCKET_KEY": "dGhlIHNhbXBsZSBub25jZQ==",
        "HTTP_SEC_WEBSOCKET_VERSION": "13",
    }
    theirs.settimeout(30)
    heard = threading.Event()
    ws = HeardServer(environ)
    try:
        ws.heard = heard.set
        assert theirs.recv(4096).startswith(b"HTTP/1.1 101")
        theirs.sendall(_masked_text_frame(b'42/cordiax-sync/,["sync_data",{"data":"00', False))
        assert heard.wait(30), "the first piece of a message must count as the client's"
        assert ws.receive(timeout=0) is None  # the message itself is not complete
        theirs.sendall(bytes([0x80, 0x80]) + b"\0\0\0\0")  # an empty final continuation
        assert ws.receive(timeout=30).startswith('42/cordiax-sync/,["sync_data"')
    finally:
        theirs.close()
        ws.thread.join(30)
