"""A streaming multipart/form-data reader: file parts are read straight from the socket.

Werkzeug's form parser spools every file to a temporary file before the view runs, and parses at a
fraction of the speed of the network (0.14-0.24 GB/s where gunicorn reads a 1 GiB body at
0.9-1.05 GB/s, measured over loopback on a 2-core EPYC VM). This reader instead hands out each
part as a stream, finding boundaries with `bytes.find` over large buffers, so an upload can be
hashed and written to its destination while it arrives, with memory bounded by one buffer.

The body is read with `readinto` into pooled buffers (syncapp/bodies.py) and a file part's data
is handed on as views of them (`FormPart.views`): no allocation or copy per chunk. A refill
takes a fresh buffer and copies only the unread tail (a possible delimiter start, a few bytes).

Kept over streaming-form-data (a Cython parser on PyPI) by measurement (bench/multipart_parsers.py,
docs/benchmarks.md, issue 23): the library took 1.3-1.5 x this reader's CPU per byte of a file
part and ~25 x per part (it parses each part's headers with the email package), with no gain in
the whole receive, and it pushes parts into targets registered by name before parsing.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from . import bodies

CHUNK_SIZE = bodies.CHUNK_SIZE
MAX_HEADER_BYTES = 16 * 1024


class MultipartError(Exception):
    """The body is not well-formed multipart/form-data."""


class ClientDisconnected(MultipartError):
    """The body ended before the closing boundary: the client went away mid-upload."""


_PARAM = re.compile(r';\s*([\w*-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]*))')


def boundary_of(content_type: str | None) -> bytes:
    if not content_type or not content_type.lower().startswith("multipart/form-data"):
        raise MultipartError("expected a multipart/form-data body")
    for name, quoted, plain in _PARAM.findall(content_type):
        if name.lower() == "boundary":
            value = quoted or plain
            if 0 < len(value) <= 200:
                return value.encode("latin-1")
    raise MultipartError("the multipart/form-data body has no boundary")


def _disposition(value: str) -> dict[str, str]:
    params: dict[str, str] = {}
    for name, quoted, plain in _PARAM.findall(";" + value.split(";", 1)[1] if ";" in value else ""):
        text = quoted.replace('\\"', '"').replace("\\\\", "\\") if quoted else plain
        if name.lower() == "filename*" and "''" in text:  # RFC 5987: charset''percent-encoded
            charset, _, encoded = text.partition("''")
            params["filename"] = unquote(encoded, encoding=charset or "utf-8", errors="replace")
        elif name.lower() not in params:
            params[name.lower()] = text
    return params


@dataclass
class FormPart:
    name: str
    filename: str | None
    content_type: str | None
    headers: dict[str, str] = field(default_factory=dict)
    _form: StreamingForm | None = None

    def read(self, size: int = CHUNK_SIZE) -> bytes:
        """Up to `size` bytes of this part's content; b"" at its end."""
        return bytes(self.read_view(size))

    def read_view(self, size: int = CHUNK_SIZE) -> memoryview:
        """As `read`, a view of the form's buffer: valid until the form reads on."""
        assert self._form is not None
        return self._form._read_part(self, size)

    def chunks(self, size: int = CHUNK_SIZE) -> Iterator[bytes]:
        while chunk := self.read(size):
            yield chunk

    def views(self, size: int = CHUNK_SIZE) -> Iterator[memoryview]:
        """The content as views of pooled buffers, without a copy: each valid until the next
        is asked for, unless held (bodies.hold), as `uploads.receive_into` does."""
        while chunk := self.read_view(size):
            yield chunk

    def read_text(self, limit: int) -> str:
        data = bytearray()
        for chunk in self.views():
            data += chunk
            if len(data) > limit:
                raise MultipartError(f"the form field {self.name!r} is longer than {limit} bytes")
        return data.decode("utf-8", errors="replace")


class StreamingForm:
    """Iterate over the parts of a body; a part not read to its end is skipped automatically."""

    def __init__(self, stream: Any, boundary: bytes, *, chunk_size: int = CHUNK_SIZE) -> None:
        """`stream`: anything with `readinto` (bodies.request_source) or `read`."""
        self._stream = stream
        self._readinto = getattr(stream, "readinto", None) or self._read_into
        self._chunk_size = chunk_size
        self._delimiter = b"\r\n--" + boundary
        self._buffer: bytearray | bytes = b""
        self._end = 0  # the buffer's bytes up to here were received
        self._pos = 0
        self._data_end = 0  # the current part's data is known to run up to here in the buffer
        self._current: FormPart | None = None
        self._part_done = True
        self._finished = False
        self.bytes_read = 0

    # -- buffer -------------------------------------------------------------------------------

    def _read_into(self, view: memoryview) -> int:
        data = self._stream.read(len(view))
        view[: len(data)] = data
        return len(data)

    def _fill(self) -> None:
        """Receive more: the unread tail moves to the start of a fresh pooled buffer (parts'
        views of the old one stay valid for whoever holds it) and the rest is read into it."""
        tail = self._end - self._pos
        buffer = bodies.take(tail + 1)
        room = min(self._chunk_size, len(buffer) - tail)  # at least 1
        buffer[:tail] = memoryview(self._buffer)[self._pos : self._end]
        try:
            count = self._readinto(memoryview(buffer)[tail : tail + room])
        except OSError as exc:  # the server's socket reader gives up on a vanished client
            bodies.release(buffer)
            raise ClientDisconnected(f"the upload was interrupted: {exc}") from None
        except BaseException:
            bodies.release(buffer)
            raise
        if not count:
            bodies.release(buffer)
            raise ClientDisconnected("the upload ended before the form was complete")
        self.bytes_read += count
        self._let_go()
        self._buffer, self._end = buffer, tail + count
        self._pos = self._data_end = 0

    def _let_go(self) -> None:
        bodies.release(self._buffer)
        self._buffer, self._end, self._pos = b"", 0, 0

    def _available(self) -> int:
        return self._end - self._pos

    # -- structure ----------------------------------------------------------------------------

    def _open(self) -> None:
        # The body starts with the first boundary; anything before it is preamble.
        first = self._delimiter[2:]
        while True:
            index = self._buffer.find(first, self._pos, self._end)
            if index >= 0:
                self._pos = index + len(first)
                return
            if self._available() > MAX_HEADER_BYTES:
                raise MultipartError("no multipart boundary found at the start of the body")
            self._fill()

    def _after_boundary(self) -> bool:
        """After a boundary: True when another part follows, False at the closing '--'."""
        while self._available() < 2:
            self._fill()
        if self._buffer[self._pos : self._pos + 2] == b"--":
            self._finished = True
            return False
        while True:  # transport padding, then CRLF
            end = self._buffer.find(b"\r\n", self._pos, self._end)
            if end >= 0:
                self._pos = end + 2
                return True
            if self._available() > 1024:
                raise MultipartError("malformed multipart boundary line")
            self._fill()

    def _headers(self) -> dict[str, str]:
        while True:
            end = self._buffer.find(b"\r\n\r\n", self._pos, self._end)
            if end >= 0:
                break
            if self._available() > MAX_HEADER_BYTES:
                raise MultipartError("multipart part headers are too large")
            self._fill()
        block = bytes(self._buffer[self._pos : end]).decode("utf-8", errors="replace")
        self._pos = end + 4
        headers: dict[str, str] = {}
        for line in block.split("\r\n"):
            name, sep, value = line.partition(":")
            if sep:
                headers[name.strip().lower()] = value.strip()
        return headers

    def parts(self) -> Iterator[FormPart]:
        try:
            yield from self._parts()
        finally:
            self._let_go()  # the last buffer back to the pool (held views keep it)

    def _parts(self) -> Iterator[FormPart]:
        self._open()
        while self._after_boundary():
            headers = self._headers()
            params = _disposition(headers.get("content-disposition", ""))
            if "name" not in params:
                raise MultipartError("a multipart part has no name")
            part = FormPart(
                params["name"], params.get("filename"), headers.get("content-type"), headers, self
            )
            self._current, self._part_done, self._data_end = part, False, 0
            yield part
            while not self._part_done:  # skip what the consumer did not read
                self._read_part(part, self._chunk_size)

    def _read_part(self, part: FormPart, size: int) -> memoryview:
        if part is not self._current or self._part_done:
            return memoryview(b"")
        if self._data_end <= self._pos and not self._scan():
            return memoryview(b"")
        end = min(self._data_end, self._pos + size)
        data = memoryview(self._buffer)[self._pos : end]  # no copy: the pooled buffer itself
        self._pos = end
        return data

    def _scan(self) -> bool:
        """Find where the current part's data ends in the buffer; False at the part's end."""
        delimiter = self._delimiter
        while True:
            index = self._buffer.find(delimiter, self._pos, self._end)
            if index == self._pos:
                self._pos += len(delimiter)
                self._part_done = True
                return False
            if index > self._pos:
                self._data_end = index
                return True
            safe = self._safe_end()
            if safe > self._pos:
                self._data_end = safe
                return True
            self._fill()

    def _safe_end(self) -> int:
        """How much of a buffer without a delimiter is data: all of it, except a tail that could
        be the start of a delimiter split across two reads.

        Only a tail that starts with CR and matches the delimiter's start is held back (rarely
        more than none), so the buffer is usually handed on whole instead of re-joined.
        """
        buffer, delimiter, end = self._buffer, self._delimiter, self._end
        cr = buffer.find(b"\r", max(self._pos, end - len(delimiter) + 1), end)
        while cr >= 0:
            if delimiter.startswith(buffer[cr:end]):
                return cr
            cr = buffer.find(b"\r", cr + 1, end)
        return end
