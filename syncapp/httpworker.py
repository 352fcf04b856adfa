"""gunicorn's gthread worker, reading request heads in its event loop instead of a pool thread.

gthread hands a connection to a pool thread as soon as its first byte arrives, and the thread
then blocks until the request line and headers are complete: 520 clients each sending half a
request held all 512 threads and health timed out (issue 18). Here the main loop (the one that
already accepts and keeps kept-alive connections) collects the head without blocking, and only
a complete head goes to a thread, which finds the bytes in the parser's buffer. A head that is
not complete within `header_timeout` seconds (nginx's client_header_timeout) is answered 408
and closed; one larger than `max_head` bytes 431. Idle and half-sent connections then cost a
file descriptor and a few KiB each, not a thread.

Used by deploy/gunicorn.conf.py (worker_class); TLS (gunicorn's certfile) and HTTP/2 keep
gthread's own path, which reads in the thread.
"""

from __future__ import annotations

import contextlib
import errno
import resource
import selectors
import time
from collections import deque
from functools import partial

from gunicorn import http, util
from gunicorn.workers.gthread import TConn, ThreadWorker

_END_OF_HEAD = (b"\r\n\r\n", b"\n\n")


def _response(status: str) -> bytes:
    return f"HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".encode()


def raise_open_files_limit() -> int:
    """Every idle client is a file descriptor: use the hard limit, not the soft default (often
    1024, below the worker_connections the config asks for)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        return hard
    return soft


class HeadFirstWorker(ThreadWorker):
    """ThreadWorker whose threads only ever see connections with a complete request head."""

    #: seconds a client has to send the request line and all headers (set by gunicorn.conf.py)
    header_timeout = 10.0
    #: bytes of request line and headers at most; gunicorn's own limits apply after that too
    max_head = 64 * 1024

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # connections whose head is being read, oldest deadline first
        self.reading_heads: deque[TConn] = deque()

    def init_process(self) -> None:
        raise_open_files_limit()
        super().init_process()

    def _reads_in_loop(self) -> bool:
        return not self.cfg.is_ssl

    def accept(self, listener) -> None:
        if not self._reads_in_loop():
            super().accept(listener)
            return
        try:
            client_sock, client_addr = listener.accept()
        except OSError as e:
            if e.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise
            return
        self.nr_conns += 1
        conn = TConn(self.cfg, client_sock, client_addr, listener.getsockname())  # non-blocking
        self._await_head(conn)

    def on_client_socket_readable(self, conn, client) -> None:
        """A kept-alive connection starts its next request: read its head here too."""
        if not self._reads_in_loop():
            super().on_client_socket_readable(conn, client)
            return
        self.poller.unregister(client)
        self.keepalived_conns.remove(conn)
        self._await_head(conn)

    def _await_head(self, conn: TConn) -> None:
        conn.head = bytearray()
        conn.timeout = time.monotonic() + self.header_timeout
        self.reading_heads.append(conn)
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._read_head, conn))

    def _drop(self, conn: TConn, answer: bytes | None = None) -> None:
        with contextlib.suppress(OSError, KeyError, ValueError):
            self.poller.unregister(conn.sock)
        with contextlib.suppress(ValueError):
            self.reading_heads.remove(conn)
        if answer is not None:
            with contextlib.suppress(OSError):
                conn.sock.send(answer)
        self.nr_conns -= 1
        util.close(conn.sock)

    def _read_head(self, conn: TConn, client) -> None:
        try:
            data = conn.sock.recv(16384)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self._drop(conn)
            return
        if not data:
            self._drop(conn)
            return
        conn.head += data
        if not any(end in conn.head for end in _END_OF_HEAD):
            if len(conn.head) > self.max_head:
                self._drop(conn, _response("431 Request Header Fields Too Large"))
            return
        self.poller.unregister(conn.sock)
        self.reading_heads.remove(conn)
        if conn.parser is None:
            conn.parser = http.get_parser(self.cfg, conn.sock, conn.client)
            conn.initialized = True
        # the parser reads its buffer before the socket: the thread starts on a whole head
        conn.parser.unreader.unread(bytes(conn.head))
        conn.head = bytearray()
        conn.data_ready = True
        self.enqueue_req(conn)

    def _cap_keepalive(self, deadline: float) -> None:
        """A stopping worker waits for its connections: half-sent heads get no longer than
        kept-alive ones."""
        super()._cap_keepalive(deadline)
        for conn in self.reading_heads:
            conn.timeout = min(conn.timeout, deadline)

    def murder_pending(self) -> None:
        """Runs once per loop turn (at least every second): also close heads that are late."""
        super().murder_pending()
        now = time.monotonic()
        while self.reading_heads and self.reading_heads[0].timeout <= now:
            self._drop(self.reading_heads[0], _response("408 Request Timeout"))
