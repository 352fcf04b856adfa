"""Real receivers for notifications: an SMTP server (aiosmtpd) and an HTTP webhook receiver.

Both run in threads of the test process, on free ports of 127.0.0.1, started once per session
(per xdist worker), and record what they receive. Each test reads only its own messages: mail to
a recipient address it made up (`smtp_server.messages_to(addr)`), requests to a path of its own
(`webhook_receiver.path()` gives a fresh one). A server records a message before it answers, so
once the sender got its answer the record is there: no waiting.

The webhook receiver answers 200, or, for a path given a script (`respond(path, 500, 200)`),
each status of the script in turn and then the last one again.
"""

from __future__ import annotations

import email
import threading
import uuid
from collections import defaultdict
from dataclasses import dataclass
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.peers.process import free_port, peer_missing

# --- SMTP -------------------------------------------------------------------------------------


class SmtpPeer:
    def __init__(self) -> None:
        self.host = "127.0.0.1"
        self.port = 0
        self._lock = threading.Lock()
        self._messages: list[tuple[list[str], Message]] = []

    # aiosmtpd's handler hook: called with the whole message, before the server's 250
    async def handle_DATA(self, server, session, envelope) -> str:
        parsed = email.message_from_bytes(envelope.original_content or envelope.content)
        with self._lock:
            self._messages.append(([r.lower() for r in envelope.rcpt_tos], parsed))
        return "250 Message accepted for delivery"

    def messages_to(self, address: str) -> list[Message]:
        with self._lock:
            return [m for rcpts, m in self._messages if address.lower() in rcpts]

    def url(self, to: str, sender: str = "syncapp@example.com") -> str:
        """An Apprise mailto:// URL sending to this server, without TLS or login."""
        return f"mailto://{self.host}:{self.port}?from={sender}&to={to}"


@pytest.fixture(scope="session")
def smtp_server():
    try:
        from aiosmtpd.controller import Controller
    except ImportError:
        peer_missing("aiosmtpd not installed: pip install -r requirements-dev.txt")
    peer = SmtpPeer()
    peer.port = free_port()
    controller = Controller(peer, hostname=peer.host, port=peer.port)
    controller.start()  # returns once the server answers a connection
    try:
        yield peer
    finally:
        controller.stop()


# --- HTTP -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    status: int  # what the receiver answered


class WebhookPeer:
    def __init__(self) -> None:
        self.port = 0
        self._lock = threading.Lock()
        self._requests: dict[str, list[Received]] = defaultdict(list)
        self._scripts: dict[str, list[int]] = {}

    def path(self) -> str:
        """A path nobody else uses: this test's mailbox."""
        return f"/hook/{uuid.uuid4().hex}"

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def respond(self, path: str, *statuses: int) -> None:
        with self._lock:
            self._scripts[path] = list(statuses)

    def requests(self, path: str) -> list[Received]:
        with self._lock:
            return list(self._requests[path])

    def _answer(self, method: str, path: str, headers: dict[str, str], body: bytes) -> int:
        with self._lock:
            script = self._scripts.get(path)
            status = (script.pop(0) if len(script) > 1 else script[0]) if script else 200
            self._requests[path].append(Received(method, path, headers, body, status))
        return status


def _handler(peer: WebhookPeer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            status = peer._answer("POST", self.path, dict(self.headers.items()), body)
            reply = b'{"ok": true}' if status < 400 else b'{"ok": false}'
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, format: str, *args) -> None:  # quiet: pytest shows stderr
            pass

    return Handler


@pytest.fixture(scope="session")
def webhook_receiver():
    peer = WebhookPeer()
    peer.port = free_port()
    server = ThreadingHTTPServer(("127.0.0.1", peer.port), _handler(peer))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="webhook-receiver", daemon=True)
    thread.start()
    try:
        yield peer
    finally:
        server.shutdown()
        server.server_close()
