"""Request bodies received into reused buffers: no allocation per chunk on the upload path.

Every upload (backups' multipart form, restic's raw objects, documents, cloud files) reads its
body through here. Each chunk lands in a `PooledBuffer` taken from a small process-wide free
list and is handed on as a memoryview, to the SHA-256 on the request thread and to the MD5 and
writer threads of `uploads.receive_into`, without a copy. A buffer goes back to the free list
when the last of them releases it. Before this, every 1 MiB chunk was a new bytes object: with
the worker's fixed 256 KiB mmap threshold (deploy/gunicorn.conf.py) an mmap/munmap pair and 256
page faults per MiB, plus gunicorn's copies through BytesIO (issue 23, docs/architecture.md).

Under gunicorn (plain HTTP, Content-Length) the body is read with `recv_into` straight from the
connection's socket, after the bytes gunicorn's parser already holds; gunicorn's own
`LengthReader` is told what was consumed, so keep-alive finds the next request where it
starts, and a failed read marks the body failed, so gunicorn closes the connection. Anything
else (TLS, chunked bodies, the Flask test client, other servers) reads `wsgi.input`.

Lifetime rule: a chunk handed out by `body_chunks` (or a multipart part's `chunks`) is valid
until the next one is asked for. A consumer that keeps it longer (another thread) calls
`hold(chunk)` before asking for the next, and `release(chunk)` when done.
"""

from __future__ import annotations

import io
import socket
import threading
from collections.abc import Iterator
from typing import Any, Protocol

from werkzeug.exceptions import ClientDisconnected

CHUNK_SIZE = 1024 * 1024
#: free buffers a process keeps between uploads (MiB): more concurrent uploads allocate more
#: while they run, and what is released beyond this goes back to the allocator
FREE_KEPT = 16

_lock = threading.Lock()
_free: list[PooledBuffer] = []


class PooledBuffer(bytearray):
    """A bytearray with a count of its holders; back to the free list when it drops to 0."""

    __slots__ = ("refs",)

    def __init__(self, size: int) -> None:
        super().__init__(size)
        self.refs = 1


def take(size: int = CHUNK_SIZE) -> PooledBuffer:
    """A buffer of at least `size` bytes, held once by the caller."""
    if size <= CHUNK_SIZE:
        with _lock:
            if _free:
                buffer = _free.pop()
                buffer.refs = 1
                return buffer
        size = CHUNK_SIZE
    return PooledBuffer(size)


def _owner(chunk: Any) -> PooledBuffer | None:
    owner = getattr(chunk, "obj", None)  # a memoryview's underlying object
    return owner if isinstance(owner, PooledBuffer) else None


def hold(chunk: Any) -> None:
    """One more holder of the chunk's buffer (nothing for bytes, which nobody reuses)."""
    owner = _owner(chunk) if not isinstance(chunk, PooledBuffer) else chunk
    if owner is not None:
        with _lock:
            owner.refs += 1


def release(chunk: Any) -> None:
    owner = _owner(chunk) if not isinstance(chunk, PooledBuffer) else chunk
    if owner is None:
        return
    with _lock:
        if owner.refs <= 0:
            raise RuntimeError("a pooled buffer was released more often than held")
        owner.refs -= 1
        if owner.refs == 0 and len(owner) == CHUNK_SIZE and len(_free) < FREE_KEPT:
            _free.append(owner)


def owned(chunk: Any) -> bytes:
    """The chunk as bytes of its own, for a consumer that keeps what it reads."""
    return chunk if isinstance(chunk, bytes) else bytes(chunk)


class Source(Protocol):
    def readinto(self, view: memoryview) -> int:
        """Fill the start of `view`; the count, 0 at the end of the body."""


class _GunicornBody:
    """A Content-Length body read from gunicorn's socket; gunicorn's reader kept in step."""

    def __init__(self, body: Any, sock: socket.socket) -> None:
        self._body = body  # gunicorn.http.body.Body
        self._length_reader = body.reader  # its LengthReader: `length` is what is left
        self._unreader = body.reader.unreader
        self._sock = sock
        self._held = True  # gunicorn may still hold bytes of the body: look there first

    @staticmethod
    def _take_held(holder: Any, attribute: str, view: memoryview, limit: int) -> int:
        held: io.BytesIO = getattr(holder, attribute)
        data = held.getvalue()
        if not data:
            return 0
        count = min(len(data), limit, len(view))
        view[:count] = data[:count]
        rest = io.BytesIO()
        rest.write(data[count:])
        setattr(holder, attribute, rest)
        return count

    def readinto(self, view: memoryview) -> int:
        left = self._length_reader.length
        if self._held:
            # bytes a read() through gunicorn left behind: already subtracted from `length`
            count = self._take_held(self._body, "buf", view, len(view))
            if count:
                return count
            if left <= 0:
                return 0
            # bytes the parser read after the head (part of the body, or of the next request)
            count = self._take_held(self._unreader, "buf", view, left)
            if count:
                self._length_reader.length = left - count
                return count
            self._held = False  # both drained: from here on only the socket has body bytes
        if left <= 0:
            return 0
        try:
            # MSG_WAITALL: the whole view (or the rest of the body) in one call, not one call
            # per segment the client's writes arrived in (a 1 MiB chunk was 30+ recv calls,
            # each a round through this method); a partial count only at EOF or a signal
            count = self._sock.recv_into(view, min(len(view), left), socket.MSG_WAITALL)
        except OSError:
            self._body.failed = True  # where the next request starts is unknown: close
            raise
        if count == 0:
            self._body.failed = True
            raise ClientDisconnected("The client went away before the body was complete.")
        self._length_reader.length = left - count
        return count


class _StreamBody:
    """Any other server's (or TLS, or chunked) `wsgi.input`, through Werkzeug's stream."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def readinto(self, view: memoryview) -> int:
        data = self._stream.read(len(view))
        view[: len(data)] = data
        return len(data)


def request_source(environ: dict, stream: Any) -> Source:
    """Where the request's body is read from: gunicorn's socket when that is safe, else
    `stream` (Flask's `request.stream`)."""
    body = environ.get("wsgi.input")
    sock = environ.get("gunicorn.socket")
    reader = getattr(body, "reader", None)
    if (
        type(sock) is socket.socket  # not TLS: an SSLSocket decrypts in its own buffers
        and type(reader).__name__ == "LengthReader"
        and getattr(getattr(reader, "unreader", None), "sock", None) is sock
        and environ.get("CONTENT_LENGTH")
    ):
        return _GunicornBody(body, sock)
    return _StreamBody(stream)


def body_chunks(source: Source, size: int = CHUNK_SIZE) -> Iterator[memoryview]:
    """The body as views of pooled buffers, each filled whole but the last (fewer, larger
    chunks: less work per byte downstream); valid until the next is asked for."""
    while True:
        buffer = take(size)
        try:
            view = memoryview(buffer)[:size]
            filled = 0
            while filled < size:
                count = source.readinto(view[filled:])
                if count == 0:
                    break
                filled += count
            if filled == 0:
                return
            yield view[:filled]
            if filled < size:
                return
        finally:
            release(buffer)


def reader_views(reader: Any, size: int = CHUNK_SIZE) -> Iterator[memoryview]:
    """A stored file's reader (`Remote.open_read`) as views of one pooled buffer, for a
    consumer done with each before the next (a gzip check): no bytes object per chunk."""
    buffer = take(size)
    try:
        view = memoryview(buffer)[:size]
        source = reader if hasattr(reader, "readinto") else _StreamBody(reader)
        while count := source.readinto(view):
            yield view[:count]
    finally:
        release(buffer)


def request_chunks(size: int = CHUNK_SIZE) -> Iterator[memoryview]:
    """The current Flask request's body, as `body_chunks`."""
    from flask import request

    return body_chunks(request_source(request.environ, request.stream), size)
