"""When the server asks each connected Cordiax client for its database (`sync_request`).

The public client (python-socketio 5.11) marks itself connected only after its connect handler
has returned and the namespace is confirmed, and it runs event handlers in threads of their own.
A `sync_request` emitted while the client connects is handled before that flag is set: the
client's handler gives up ("No hay conexión SocketIO activa") and nothing is pushed, and its own
push from the connect handler fails the same way. So the first request goes out a moment after
the connection (`FIRST_DELAY`), once more if no push arrived (`RETRY_DELAY`), then every
`cordiax.sync_request_interval` seconds: the client has no timer of its own in Socket.IO mode,
so these requests are the only way later changes reach the server.

One thread per process serves every connection from a heap of due times; it never touches the
database, so a thousand idle clients hold no pooled connection.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

#: seconds after a connection before the first request: longer than python-socketio's
#: one-second wait for the namespace in Client.connect(), after which `connected` is set
FIRST_DELAY = 2.0
#: seconds after the first request before asking again when nothing arrived (a small database
#: zipped before the client was marked connected); later requests follow the interval
RETRY_DELAY = 10.0


@dataclass
class _Client:
    pushed: bool = False  # a push arrived since the last request
    #: the last push was refused as too large: asking again would only re-upload the same
    #: bytes, so this connection is not asked again (the client pushes anew when it reconnects)
    paused: bool = False
    requests: int = 0


@dataclass(order=True)
class _Due:
    at: float
    order: int
    sid: str = field(compare=False)
    #: a one-off request after a push refused as busy: outside the schedule's bookkeeping
    retry: bool = field(default=False, compare=False)


class SyncRequester:
    """Schedules `sync_request` for each connection; `send(sid)` emits one."""

    def __init__(self, send: Callable[[str], None], interval: float) -> None:
        self._send = send
        self.interval = max(1.0, float(interval))
        self._clients: dict[str, _Client] = {}
        self._heap: list[_Due] = []
        self._order = itertools.count()
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None
        self._stopped = False

    def connected(self, sid: str) -> None:
        with self._wake:
            self._clients[sid] = _Client()
            self._schedule(sid, FIRST_DELAY)
            self._start()

    def disconnected(self, sid: str) -> None:
        with self._wake:
            self._clients.pop(sid, None)  # its heap entries are skipped when due

    def pushed(self, sid: str, *, refused_size: bool = False) -> None:
        with self._wake:
            client = self._clients.get(sid)
            if client is not None:
                client.pushed = True
                client.paused = refused_size

    def retry(self, sid: str, delay: float) -> None:
        """Ask `sid` again in `delay` seconds: its push was refused as busy (push_gate.py), and
        the client pushes only when asked."""
        with self._wake:
            if sid in self._clients:
                self._schedule(sid, delay, retry=True)

    def stop(self) -> None:
        with self._wake:
            self._stopped = True
            self._wake.notify_all()

    def _schedule(self, sid: str, delay: float, *, retry: bool = False) -> None:
        due = _Due(time.monotonic() + delay, next(self._order), sid, retry)
        heapq.heappush(self._heap, due)
        self._wake.notify_all()

    def _start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._stopped = False
            self._thread = threading.Thread(
                target=self._run, name="cordiax-sync-requests", daemon=True
            )
            self._thread.start()

    def _next_due(self) -> str | None:
        """Waits for the next due connection; None when stopped."""
        with self._wake:
            while not self._stopped:
                if not self._heap:
                    self._wake.wait()
                    continue
                delay = self._heap[0].at - time.monotonic()
                if delay > 0:
                    self._wake.wait(delay)
                    continue
                due = heapq.heappop(self._heap)
                sid = due.sid
                client = self._clients.get(sid)
                if client is None:
                    continue
                if due.retry:
                    return sid
                # The first request is followed by a check: asked again only if nothing came
                # back. Requests otherwise go out every interval from the first one.
                checking = client.requests == 1 and self.interval > RETRY_DELAY
                if checking and client.pushed:
                    client.requests += 1
                    self._schedule(sid, self.interval - RETRY_DELAY)
                    continue
                client.requests += 1
                client.pushed = False
                first = client.requests == 1 and self.interval > RETRY_DELAY
                self._schedule(sid, RETRY_DELAY if first else self.interval)
                if client.paused:
                    continue
                return sid
        return None

    def _run(self) -> None:
        while (sid := self._next_due()) is not None:
            try:
                self._send(sid)
            except Exception:  # a vanished connection must not end the requests of the others
                log.warning("sync_request to %s failed", sid, exc_info=True)
