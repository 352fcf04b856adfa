"""Bounds on Socket.IO (engine.io) sessions that have not proven who they are (issue 18).

Under gthread every engine.io WebSocket holds a pool thread for its whole life, and a long-poll
holds one while it waits: 515 anonymous upgrades that only answered pings held all 512 threads.
So, before engine.io creates a session:

- A handshake (a request to /socket.io/ without `sid`) that carries credentials is checked
  here: a token in `?token=` (what the Cordiax client sends) or a header, or a signed-in
  browser's session cookie, or an address in cordiax.anonymous_networks when allowed. A
  session opened that way is trusted from the start.
- A handshake without valid credentials (python-socketio clients that send their token in the
  CONNECT packet's `auth`) gets one of `socketio.unauthenticated_sessions` places, or 401 when
  they are taken. Until one of its namespaces authenticates, its messages are limited to
  `socketio.unauthenticated_max_message` bytes, and after `socketio.auth_timeout` seconds
  without authenticating it is closed: anonymous clients can hold that many threads, briefly.

Every WebSocket is served without permessage-deflate: wsproto inflates a frame whole before
any size limit is checked (a 194 KB frame became 200 MB). The limit applies to the bytes on
the wire, which is what a client must pay for.

A Socket.IO packet that does not parse (nested past the recursion limit, broken binary
attachments) closes its session with one redacted log line, not a traceback.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs

import simple_websocket
from engineio import packet as engineio_packet
from engineio.async_drivers._websocket_wsgi import SimpleWebSocketWSGI
from flask import Flask, current_app, request
from flask_login import current_user
from sqlalchemy.exc import SQLAlchemyError

from .extensions import socketio
from .logs import redact
from .security import user_for_token
from .settings import settings

log = logging.getLogger(__name__)

#: environ key the gate sets on a handshake: "trusted" or "pending"
TRUST_KEY = "syncapp.socket_trust"


#: how far past engine.io's buffer limit an authenticated message is read (and then answered)
TRUSTED_LIMIT_FACTOR = 4
#: bytes read from an authenticated WebSocket per recv() (simple-websocket's default: 4 KiB)
TRUSTED_RECEIVE_BYTES = 64 * 1024


class SessionGuard:
    """Which engine.io sessions are trusted, which wait to authenticate, and their WebSockets."""

    def __init__(
        self, app: Flask, eio: Any, anonymous: Callable[[], Any | None] = lambda: None
    ) -> None:
        options = settings(app).socketio
        self.app = app
        self.eio = eio
        self.anonymous = anonymous  # whom a handshake without credentials acts as, if anyone
        # Each such session may hold a thread: never more than a quarter of them, or the
        # handshakes that would be refused wait for a thread behind the sessions themselves.
        threads = int(settings(app).server.threads)
        self.limit = max(1, min(int(options.unauthenticated_sessions), threads // 4))
        self.auth_timeout = float(options.auth_timeout)
        self.small = int(options.unauthenticated_max_message)
        # An authenticated message above engine.io's limit is still read to its end, so that a
        # push too large to keep is answered (cordiax/transport.py: `sync_error` too_large)
        # instead of dropped (Cordiax would reconnect and push it again, forever); beyond this
        # the connection closes without reading on.
        self.trusted_limit = TRUSTED_LIMIT_FACTOR * int(eio.max_http_buffer_size)
        self.lock = threading.Lock()
        self.trusted: set[str] = set()
        self.pending: dict[str, float] = {}  # eio sid -> deadline
        self.sockets: dict[str, GuardedWebSocket] = {}
        self._reaper: threading.Thread | None = None

    # --- the handshake -------------------------------------------------------------------

    def credentials(self, environ: dict[str, Any]) -> bool:
        """Whether the handshake carries valid credentials."""
        with self.app.request_context(environ):
            if not settings(self.app).security.enable_auth:
                return True
            query_token = request.args.get("token")
            if query_token:
                return user_for_token(query_token) is not None
            # a header token or a browser session; else an allowed anonymous network
            return current_user.is_authenticated or self.anonymous() is not None

    def admit(self, environ: dict[str, Any]) -> str | None:
        """ "trusted", "pending" or None (refuse) for a new session. Wrong credentials wait
        like none: the namespace then tells the client why (Cordiax expects a sync_error)."""
        try:
            if self.credentials(environ):
                return "trusted"
        except SQLAlchemyError as exc:  # the namespace tells the client (database_unavailable)
            log.warning("Socket.IO handshake: database unavailable (%s)", type(exc).__name__)
        with self.lock:
            return "pending" if len(self.pending) < self.limit else None

    def is_trusted(self, sid: str) -> bool:
        return sid in self.trusted

    # --- engine.io's events --------------------------------------------------------------

    def opened(self, sid: str, environ: dict[str, Any]) -> None:
        trust = environ.get(TRUST_KEY)
        with self.lock:
            if trust == "trusted":
                self.trusted.add(sid)
            else:  # a session the gate did not see (tests' own servers) waits like any other
                self.pending[sid] = time.monotonic() + self.auth_timeout
                self._start_reaper()

    def closed(self, sid: str) -> None:
        with self.lock:
            self.trusted.discard(sid)
            self.pending.pop(sid, None)
            self.sockets.pop(sid, None)

    def authenticated(self, sid: str | None) -> None:
        """A namespace of session `sid` authenticated: lift the limits."""
        if sid is None:
            return
        with self.lock:
            self.pending.pop(sid, None)
            self.trusted.add(sid)
            ws = self.sockets.get(sid)
        if ws is not None:
            ws.raise_limit(self.trusted_limit)

    def websocket_limit(self, sid: str, ws: GuardedWebSocket) -> int:
        with self.lock:
            self.sockets[sid] = ws
            trusted = sid in self.trusted
        return self.trusted_limit if trusted else self.small

    def drop(self, sid: str) -> None:
        """Close session `sid` at once. engine.io's disconnect() waits until its queue has been
        sent, which a client that reads nothing never lets happen: the reaper hung on the
        first such session and reaped no other."""
        session = self.eio.sockets.pop(sid, None)
        if session is None:
            return
        try:
            session.close(wait=False, abort=True)
        except Exception:  # closing anyway; nothing left to tell the client
            log.debug("closing a Socket.IO session failed", exc_info=True)

    # --- closing the late ------------------------------------------------------------------

    def _start_reaper(self) -> None:
        if self._reaper is None or not self._reaper.is_alive():
            self._reaper = threading.Thread(
                target=self._reap, name="socket-auth-timeout", daemon=True
            )
            self._reaper.start()

    def _reap(self) -> None:
        while True:
            time.sleep(0.5)  # a deadline check, not synchronisation: late by at most this
            now = time.monotonic()
            with self.lock:
                late = [sid for sid, deadline in self.pending.items() if deadline <= now]
                for sid in late:
                    del self.pending[sid]
                sockets = [self.sockets.get(sid) for sid in late]
                idle = not self.pending
            for sid, ws in zip(late, sockets, strict=True):
                log.info("closed a Socket.IO session that did not authenticate in time")
                if ws is not None:
                    ws.abort()  # frees the thread blocked reading it
                self.drop(sid)
            if idle:
                with self.lock:
                    if not self.pending:
                        self._reaper = None
                        return


class HeardServer(simple_websocket.Server):
    """simple-websocket's server, telling `heard` (when set) each time bytes arrive, before
    they are parsed: a message still on its way counts, not only a finished one."""

    heard: Callable[[], None] | None = None

    def _handle_events(self) -> bool:
        heard = self.heard
        if heard is not None:
            heard()
        return super()._handle_events()


class ClientHeard:
    """Bytes arriving from a client prove that it is there, even while its answer to
    engine.io's PING waits behind a long message it is sending.

    engine.io closes a session whose PONG is `ping_timeout` late. A client's PONG travels on the
    same connection as its push, behind it: a 2 MiB push read slowly by a busy server (200 at
    once on 2 cores) or a 200 MiB one over a slow uplink delays it past the deadline, and the
    push is dropped with its transport (bench/load.py: `transport error`, then
    `BadNamespaceError`). So, while a PING waits for its answer and bytes keep coming, the
    deadline moves with them; a client that stops sending is still closed `ping_timeout` after
    its last byte. And since the client's PONG (and so the next PING) is held up as long as the
    message lasts, the server sends another PING every `ping_interval` meanwhile: the client,
    nginx (proxy_read_timeout) and engine.io's own writer each give up on a connection that has
    carried nothing towards the client for ping_interval + ping_timeout, and the
    python-socketio client also gives up when it has had nothing to send (no PING to answer)
    for max(ping_interval, ping_timeout) + 5 s. Extra PINGs are harmless: the first PONG starts
    engine.io's next ping, later ones find none waiting and are ignored."""

    def __init__(self, session: Any) -> None:
        self.session = session  # engine.io's Socket
        self._refreshed = 0.0  # the last deadline this object set
        self._sent = 0.0  # when the client was last sent a PING

    def __call__(self) -> None:
        session = self.session
        pinged = session.last_ping  # set while a PING waits for its PONG, None otherwise
        if not pinged or session.closing or session.closed:
            return
        now = time.time()
        if pinged != self._refreshed:  # a new PING went out at `pinged`
            self._sent = pinged
        session.last_ping = self._refreshed = now
        if now - self._sent >= session.server.ping_interval:
            self._sent = now
            session.send(engineio_packet.Packet(engineio_packet.PING))


class GuardedWebSocket(SimpleWebSocketWSGI):
    """engine.io's simple-websocket adapter without permessage-deflate and with a message limit
    that depends on whether the session has authenticated."""

    guard: SessionGuard  # set on the subclass made per app

    def __call__(self, environ, start_response):
        sid = getattr(self.app, "__self__", None)
        sid = getattr(sid, "sid", None)
        # Without the offer, wsproto accepts no extension: frames are never inflated.
        plain = {k: v for k, v in environ.items() if k != "HTTP_SEC_WEBSOCKET_EXTENSIONS"}
        self.ws = HeardServer(plain, **self.server_args)
        session = getattr(self.app, "__self__", None)
        if session is not None and hasattr(session, "last_ping"):
            self.ws.heard = ClientHeard(session)
        limit = self.guard.websocket_limit(sid, self) if sid else self.guard.small
        self.ws.max_message_size = limit
        if limit != self.guard.small:
            self.ws.receive_bytes = TRUSTED_RECEIVE_BYTES
        try:
            ret = self.app(self)
        finally:
            if sid:
                with self.guard.lock:
                    if self.guard.sockets.get(sid) is self:
                        del self.guard.sockets[sid]
        if self.ws.mode == "gunicorn":
            raise StopIteration()
        if self.ws.mode == "werkzeug":
            raise ConnectionError()
        return ret

    def raise_limit(self, size: int) -> None:
        self.ws.max_message_size = size
        self.ws.receive_bytes = TRUSTED_RECEIVE_BYTES

    def abort(self) -> None:
        with contextlib.suppress(OSError):
            self.ws.sock.shutdown(socket.SHUT_RDWR)


def _refuse(start_response: Callable, status: str, code: str, message: str) -> Iterable[bytes]:
    body = json.dumps({"status": "error", "error": code, "message": message}).encode()
    start_response(
        status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    )
    return [body]


class SocketGate:
    """WSGI middleware in front of engine.io: refuses handshakes and bodies the guard rules out,
    before engine.io has made a session or read a byte of the body."""

    def __init__(self, wsgi_app: Callable, guard: SessionGuard, path: str = "socket.io") -> None:
        self.wsgi_app = wsgi_app
        self.guard = guard
        self.prefix = "/" + path.strip("/") + "/"

    def __call__(self, environ, start_response):
        if not environ.get("PATH_INFO", "").startswith(self.prefix):
            return self.wsgi_app(environ, start_response)
        sid = parse_qs(environ.get("QUERY_STRING", "")).get("sid", [None])[0]
        if sid is None:
            trust = self.guard.admit(environ)
            if trust is None:
                return _refuse(
                    start_response,
                    "401 UNAUTHORIZED",
                    "unauthorized",
                    "Authentication required: add ?token=<token> to the URL, send "
                    "'Authorization: Bearer <token>' or sign in.",
                )
            environ[TRUST_KEY] = trust
        elif not self.guard.is_trusted(sid):
            try:
                length = int(environ.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            if length > self.guard.small:
                return _refuse(
                    start_response,
                    "413 REQUEST ENTITY TOO LARGE",
                    "too_large",
                    "Authenticate (connect a namespace) before sending larger messages.",
                )
        return self.wsgi_app(environ, start_response)


def _one_line(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return redact(f"{type(exc).__name__}: {text}"[:200])


def install(
    app: Flask, socketio: Any, anonymous: Callable[[], Any | None] = lambda: None
) -> SessionGuard:
    """Put the guard around this app's engine.io server (after socketio.init_app).
    `anonymous()`: whom a handshake without credentials acts as (None: nobody), for the
    request being handled (Cordiax clients on allowed networks)."""
    eio = socketio.server.eio
    guard = SessionGuard(app, eio, anonymous)
    eio._async = {
        **eio._async,
        "websocket": type("WebSocket", (GuardedWebSocket,), {"guard": guard}),
    }
    handlers = eio.handlers
    on_connect, on_disconnect, on_message = (
        handlers["connect"],
        handlers["disconnect"],
        handlers["message"],
    )

    def connect(sid, environ, *args):
        guard.opened(sid, environ)
        return on_connect(sid, environ, *args)

    def disconnect(sid, *args):
        guard.closed(sid)
        return on_disconnect(sid, *args)

    def message(sid, data, *args):
        try:
            return on_message(sid, data, *args)
        except (ValueError, RecursionError, TypeError, KeyError, IndexError) as exc:
            log.warning(
                "closed a Socket.IO session whose packet does not parse: %s", _one_line(exc)
            )
            guard.drop(sid)
            return None

    handlers.update(connect=connect, disconnect=disconnect, message=message)
    app.wsgi_app = SocketGate(app.wsgi_app, guard)  # type: ignore[method-assign]
    app.extensions["syncapp.socket_guard"] = guard
    return guard


def mark_authenticated() -> None:
    """Called by a namespace's connect handler once the client has proven who it is."""
    guard = current_app.extensions.get("syncapp.socket_guard")
    server = socketio.server
    if guard is None or server is None:
        return
    guard.authenticated(server.manager.eio_sid_from_sid(request.sid, request.namespace))
