"""Receive an upload into a Remote while it arrives: one pass, the costs spread over threads.

The request thread reads the socket (into reused buffers, syncapp/bodies.py), finds part
boundaries and computes the SHA-256; a writer thread runs the destination's atomic `write`, and
the MD5 is computed on a third thread meanwhile: by receive_into itself, over views of the same
buffers, when the destination reads them borrowed (`Remote.reads_borrowed`: a local folder),
else by the destination's own HashingReader, which gets bytes of its own. hashlib and file
writes release the GIL, so the costs overlap instead of adding up. The SHA-256 stays on the
request thread because that thread mostly waits (for the socket, or for room in the writer's
queue): measured under gunicorn on 2 cores, a separate SHA-256 thread was 5-8 % slower, one
more runnable thread competing for the same cores. The queue is bounded: memory stays at a few
chunks whatever the upload's size.
"""

from __future__ import annotations

import contextlib
import hashlib
import queue
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any

from . import bodies
from .failures import BadRequest, PayloadTooLarge
from .storage import Entry, Remote

QUEUE_DEPTH = 8  # chunks in flight to the writer: 8 MiB with 1 MiB chunks
_END = object()
#: Room for the multipart framing around the file when Content-Length is checked up front.
FORM_OVERHEAD = 64 * 1024


def refuse_declared_size(
    content_length: int | None, limit: int, *, sizes: Callable[[int], str] | None = None
) -> None:
    """413 before a byte is read when the declared body cannot fit: the count while streaming
    (receive_into) catches what a missing or lying Content-Length lets through. `sizes` writes
    both sizes into the message the way a seed's clients print them (seed 003: "12.0 MB")."""
    if content_length and content_length > limit + FORM_OVERHEAD:
        if sizes is None:
            raise PayloadTooLarge(f"The upload exceeds the limit of {limit} bytes.")
        raise PayloadTooLarge(
            f"The upload ({sizes(content_length)}) exceeds the limit of {sizes(limit)}."
        )


#: How a yes/no field of a multipart form may be spelled: forms and `curl -F` send text, so the
#: document lists these strings (a JSON boolean type would promise what a form cannot carry).
FLAG_TRUE = ("true", "1", "yes", "on")
FLAG_FALSE = ("false", "0", "no", "off", "")
FLAG_PROPERTY = {"type": "string", "enum": [*FLAG_TRUE, *FLAG_FALSE], "default": "false"}


def parse_form_flag(name: str, value: str | None) -> bool:
    """A form flag; anything else is refused (400) rather than read as "no"."""
    text = (value or "").strip().lower()
    if text not in FLAG_TRUE + FLAG_FALSE:
        raise BadRequest(f"{name} must be true or false, not {value!r}.", code="invalid_flag")
    return text in FLAG_TRUE


def form_body(required: list[str], **properties: dict) -> dict[str, Any]:
    """The OpenAPI requestBody of a multipart upload with a `file` part and these fields."""
    schema = {
        "type": "object",
        "required": ["file", *required],
        "properties": {"file": {"type": "string", "format": "binary"}, **properties},
    }
    return {
        "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": schema}}}
    }


class UploadAborted(Exception):
    """Raised inside the writer when the receiving side gave up; the write leaves nothing."""


@dataclass(frozen=True)
class Received:
    entry: Entry
    size: int
    md5: str
    sha256: str


class _QueueReader:
    """A file-like view of a queue of chunks, read by the destination's `write`.

    A chunk of a pooled buffer is held for this reader (receive_into holds it before queueing
    it) and released when `write` reads again: by then it is done with it (`reads_borrowed`).
    """

    def __init__(self, chunks: queue.Queue) -> None:
        self._chunks = chunks
        self._current: Any = None  # the chunk handed out last, until the next read
        self._pending: Any = b""
        self._done = False

    def read(self, size: int = -1) -> Any:
        if self._pending:
            data, self._pending = self._pending, b""
        else:
            self.let_go()
            if self._done:
                return b""
            item = self._chunks.get()
            if item is _END:
                self._done = True
                return b""
            if isinstance(item, BaseException):
                self._done = True
                raise item
            data = self._current = item
        if 0 <= size < len(data):
            data, self._pending = data[:size], data[size:]
        return data

    def let_go(self) -> None:
        """Release the chunk handed out last (at the next read, and when the write ends)."""
        if self._current is not None:
            current, self._current, self._pending = self._current, None, b""
            bodies.release(current)


class _Worker(threading.Thread):
    """Runs `work(queue)` in a thread; keeps its result or its exception for the caller."""

    def __init__(self, name: str, work: Callable[[queue.Queue], Any]) -> None:
        super().__init__(name=name, daemon=True)
        self.chunks: queue.Queue = queue.Queue(maxsize=QUEUE_DEPTH)
        self._work = work
        self.result: Any = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.result = self._work(self.chunks)
        except BaseException as exc:  # handed to the receiving thread, which re-raises it
            self.error = exc
            self._drain()

    def _drain(self) -> None:
        # Unblock a receiver waiting on a full queue; it sees `error` on its next put.
        while True:
            try:
                bodies.release(self.chunks.get_nowait())
            except queue.Empty:
                return

    def put(self, item: object) -> None:
        while self.error is None:
            try:
                self.chunks.put(item, timeout=0.2)
                return
            except queue.Full:
                continue
        raise self.error

    def hand(self, chunk: Any) -> None:
        """Queue a chunk held for this worker; released here if it cannot be queued."""
        bodies.hold(chunk)
        try:
            self.put(chunk)
        except BaseException:
            bodies.release(chunk)
            raise

    def abort(self, reason: BaseException) -> None:
        """Stop the work early; its partial output is discarded by the consumer (atomic write)."""
        if self.error is None:
            # If it failed on its own meanwhile, there is nothing left to stop.
            with contextlib.suppress(BaseException):
                self.put(reason)
        self.join()

    def finish(self) -> Any:
        self.join()
        if self.error is not None:
            raise self.error
        return self.result


def _md5_of(chunks: queue.Queue) -> str:
    digest = hashlib.md5()
    while (chunk := chunks.get()) is not _END:
        if isinstance(chunk, BaseException):
            raise chunk
        digest.update(chunk)
        bodies.release(chunk)
    return digest.hexdigest()


def _write_from(remote: Remote, path: str, compute_md5: bool) -> Callable[[queue.Queue], Entry]:
    def write(chunks: queue.Queue) -> Entry:
        reader = _QueueReader(chunks)
        try:
            return remote.write(path, reader, compute_md5=compute_md5)  # type: ignore[arg-type]
        finally:
            reader.let_go()

    return write


class _BodyCheck:
    """What every received chunk goes through, on a writer thread's path or inline: `take`
    counts it against `limit` and shows its first `head_size` bytes to `check_head` (before it
    is handed on), the caller hashes it into `sha256` (the threaded path while the writer works
    on it); `end()` refuses, before anything is committed, a short head or content whose
    SHA-256 is not `expect_sha256`."""

    def __init__(
        self,
        limit: int | None,
        check_head: Callable[[bytes], None] | None,
        head_size: int,
        expect_sha256: str | None,
    ) -> None:
        self.limit = limit
        self.check_head = check_head
        self.head_size = head_size
        self.expect = expect_sha256
        self.head = b""
        self.size = 0
        self.sha256 = hashlib.sha256()

    def take(self, chunk: bytes | memoryview) -> None:
        self.size += len(chunk)
        if self.limit is not None and self.size > self.limit:
            raise PayloadTooLarge(f"The upload exceeds the limit of {self.limit} bytes.")
        if self.check_head is not None and len(self.head) < self.head_size:
            self.head += chunk[: self.head_size - len(self.head)]
            if len(self.head) >= self.head_size:
                self.check_head(self.head)

    def end(self) -> None:
        if self.check_head is not None and len(self.head) < self.head_size:
            self.check_head(self.head)
        if self.expect is not None and self.sha256.hexdigest() != self.expect:
            raise BadRequest(
                "The content's SHA-256 is not its name: nothing was stored.", code="hash_mismatch"
            )


def receive_into(
    remote: Remote,
    path: str,
    chunks: Iterable[bytes | memoryview],
    *,
    limit: int | None = None,
    check_head: Callable[[bytes], None] | None = None,
    head_size: int = 2,
    expect_sha256: str | None = None,
    md5: bool = True,
) -> Received:
    """Stream `chunks` into `remote` at `path` atomically; raise and leave nothing on failure.

    `chunks` may be views of pooled buffers (syncapp/bodies.py), each valid until the next is
    asked for. `limit` (bytes) raises PayloadTooLarge as soon as it is passed; `check_head`
    sees the first `head_size` bytes before anything is committed and may raise to refuse the
    upload; `expect_sha256` refuses (400 `hash_mismatch`) content whose SHA-256 differs, before
    the write commits (content-addressed objects: restic's data files are named by theirs).
    `md5=False`: no MD5 is computed (Received.md5 is ""), for callers that verify their own
    digest: the remote's write is told so too (`compute_md5`).
    """
    borrowed = remote.reads_borrowed
    if borrowed and not md5:
        return _receive_inline(remote, path, chunks, limit, check_head, head_size, expect_sha256)
    hasher = _Worker("upload-md5", _md5_of) if md5 and borrowed else None
    writer = _Worker("upload-writer", _write_from(remote, path, md5 and not borrowed))
    workers = [w for w in (hasher, writer) if w is not None]
    for worker in workers:
        worker.start()
    check = _BodyCheck(limit, check_head, head_size, expect_sha256)
    try:
        for chunk in chunks:
            check.take(chunk)
            if hasher is not None:
                hasher.hand(chunk)
            writer.hand(chunk if borrowed else bodies.owned(chunk))
            check.sha256.update(chunk)  # while the writer works on this chunk
        check.end()
    except BaseException as exc:
        for worker in workers:
            worker.abort(UploadAborted(str(exc) or type(exc).__name__))
        raise
    digest = ""
    if hasher is not None:
        try:
            hasher.put(_END)
            digest = hasher.finish()
        except BaseException as exc:
            writer.abort(UploadAborted(str(exc) or type(exc).__name__))
            raise
    writer.put(_END)
    entry: Entry = writer.finish()
    if digest:  # the hash of the bytes written, as any write's Entry says
        entry = replace(entry, md5=digest)
    return Received(
        entry=entry, size=check.size, md5=entry.md5 or "", sha256=check.sha256.hexdigest()
    )


class _InlineReader:
    """The chunks as a file-like stream for a local write on the request thread: each chunk is
    counted, checked and SHA-256-hashed as the write asks for it, and written before the next
    is received (`reads_borrowed`), so a view of a pooled buffer needs no hold, no copy and no
    queue. A failure of the body (the client went away, a limit, the digest) is kept in
    `failure` and the write is aborted with UploadAborted: the caller raises the original."""

    def __init__(self, chunks: Iterable[bytes | memoryview], check: _BodyCheck) -> None:
        self._chunks = iter(chunks)
        self.check = check
        self._pending: Any = b""
        self._done = False
        self.failure: BaseException | None = None

    def read(self, size: int = -1) -> Any:
        if self._pending:
            data, self._pending = self._pending, b""
        elif self._done:
            return b""
        else:
            try:
                data = self._next()
            except BaseException as exc:
                self._done = True
                self.failure = exc
                raise UploadAborted(str(exc) or type(exc).__name__) from exc
        if 0 <= size < len(data):
            data, self._pending = data[:size], data[size:]
        return data

    def _next(self) -> Any:
        for chunk in self._chunks:
            if chunk:
                self.check.take(chunk)
                self.check.sha256.update(chunk)
                return chunk
        # the end of the body: refused here, before the write makes anything durable or visible
        self._done = True
        self.check.end()
        return b""


def _receive_inline(
    remote: Remote,
    path: str,
    chunks: Iterable[bytes | memoryview],
    limit: int | None,
    check_head: Callable[[bytes], None] | None,
    head_size: int,
    expect_sha256: str | None,
) -> Received:
    """receive_into for a local store without an MD5: receive, hash and write each chunk on the
    request thread, one after the other. No writer thread per upload and no hand-over of every
    chunk: on two cores beside a busy client (restic backing up) the hand-overs and the extra
    runnable thread cost more CPU than the overlap wins, and concurrent uploads overlap anyway."""
    check = _BodyCheck(limit, check_head, head_size, expect_sha256)
    reader = _InlineReader(chunks, check)
    try:
        entry = remote.write(path, reader, compute_md5=False)  # type: ignore[arg-type]
    except BaseException:
        if reader.failure is not None:
            raise reader.failure from None
        raise
    return Received(entry=entry, size=check.size, md5="", sha256=check.sha256.hexdigest())


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def clean_filename(filename: str | None) -> str:
    """The user's file name without any folder part (browsers on Windows may send one)."""
    name = _CONTROL.sub("", (filename or "").replace("\\", "/")).split("/")[-1].strip()
    if not name:
        raise BadRequest("No file was sent: use -F 'file=@invoice.pdf'.", code="no_file")
    return name[:255]
