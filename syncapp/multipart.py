"""A streaming multipart/form-data reader: file parts are read straight from the socket.

Werkzeug's form parser spools every file to a temporary file before the view runs, and parses at a
fraction of the speed of the network (0.14-0.24 GB/s where gunicorn reads a 1 GiB body at
0.9-1.05 GB/s, measured over loopback on a 2-core EPYC VM). This reader instead hands out each
part as a stream, finding boundaries with `bytes.find` over large buffers, so an upload can be
hashed and written to its destination while it arrives, with memory bounded by one buffer.

Kept over streaming-form-data (a Cython parser on PyPI) by measurement (bench/multipart_parsers.py,
docs/benchmarks.md, issue 23): the library took 1.3-1.5 x this reader's CPU per byte of a file
part and ~25 x per part (it parses each part's headers with the email package), with no gain in
the whole receive, and it pushes parts into targets registered by name before parsing.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO
from urllib.parse import unquote

CHUNK_SIZE = 1024 * 1024
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
        assert self._form is not None
        return self._form._read_part(self, size)

    def chunks(self, size: int = CHUNK_SIZE) -> Iterator[bytes]:
        while chunk := self.read(size):
            yield chunk

    def read_text(self, limit: int) -> str:
        data = bytearray()
        for chunk in self.chunks():
            data += chunk
            if len(data) > limit:
                raise MultipartError(f"the form field {self.name!r} is longer than {limit} bytes")
        return data.decode("utf-8", errors="replace")


class StreamingForm:
    """Iterate over the parts of a body; a part not read to its end is skipped automatically."""

    def __init__(self, stream: BinaryIO, boundary: bytes, *, chunk_size: int = CHUNK_SIZE) -> None:
        self._stream = stream
        self._chunk_size = chunk_size
        self._delimiter = b"\r\n--" + boundary
        self._buffer = b""
        self._pos = 0
        self._data_end = 0  # the current part's data is known to run up to here in the buffer
        self._current: FormPart | None = None
        self._part_done = True
        self._finished = False
        self.bytes_read = 0

    # -- buffer -------------------------------------------------------------------------------

    def _fill(self) -> None:
        try:
            data = self._stream.read(self._chunk_size)
        except OSError as exc:  # the server's socket reader gives up on a vanished client
            raise ClientDisconnected(f"the upload was interrupted: {exc}") from None
        if not data:
            raise ClientDisconnected("the upload ended before the form was complete")
        self.bytes_read += len(data)
        self._buffer = self._buffer[self._pos :] + data if self._pos < len(self._buffer) else data
        self._pos = self._data_end = 0

    def _available(self) -> int:
        return len(self._buffer) - self._pos

    # -- structure ----------------------------------------------------------------------------

    def _open(self) -> None:
        # The body starts with the first boundary; anything before it is preamble.
        first = self._delimiter[2:]
        while True:
            index = self._buffer.find(first, self._pos)
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
        marker = self._buffer[self._pos : self._pos + 2]
        if marker == b"--":
            self._finished = True
            return False
        while True:  # transport padding, then CRLF
            end = self._buffer.find(b"\r\n", self._pos)
            if end >= 0:
                self._pos = end + 2
                return True
            if self._available() > 1024:
                raise MultipartError("malformed multipart boundary line")
            self._fill()

    def _headers(self) -> dict[str, str]:
        while True:
            end = self._buffer.find(b"\r\n\r\n", self._pos)
            if end >= 0:
                break
            if self._available() > MAX_HEADER_BYTES:
                raise MultipartError("multipart part headers are too large")
            self._fill()
        block = self._buffer[self._pos : end].decode("utf-8", errors="replace")
        self._pos = end + 4
        headers: dict[str, str] = {}
        for line in block.split("\r\n"):
            name, sep, value = line.partition(":")
            if sep:
                headers[name.strip().lower()] = value.strip()
        return headers

    def parts(self) -> Iterator[FormPart]:
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

    def _read_part(self, part: FormPart, size: int) -> bytes:
        if part is not self._current or self._part_done:
            return b""
        if self._data_end <= self._pos and not self._scan():
            return b""
        end = min(self._data_end, self._pos + size)
        # A part's bytes usually fill the whole buffer: the slice is then the buffer itself,
        # handed on without a copy.
        data = self._buffer[self._pos : end]
        self._pos = end
        return data

    def _scan(self) -> bool:
        """Find where the current part's data ends in the buffer; False at the part's end."""
        delimiter = self._delimiter
        while True:
            index = self._buffer.find(delimiter, self._pos)
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
        buffer, delimiter = self._buffer, self._delimiter
        cr = buffer.find(b"\r", max(self._pos, len(buffer) - len(delimiter) + 1))
        while cr >= 0:
            if delimiter.startswith(buffer[cr:]):
                return cr
            cr = buffer.find(b"\r", cr + 1)
        return len(buffer)
