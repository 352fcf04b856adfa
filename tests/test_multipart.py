"""The streaming multipart reader against bodies built at random: every part comes back intact.

Bodies have file and text parts in random order, with contents that contain pieces of the
boundary (a delimiter cut short, without its CRLF, with a wrong last byte, at the very end); the
stream hands out random-sized pieces and the reader is used with random chunk and read sizes,
sometimes leaving parts unread. Each seed is one reproducible case.

Then the whole upload path, reader -> receive_into -> LocalRemote.write, with a file large enough
for the local backend's MD5 thread and early writeback to take part.
"""

from __future__ import annotations

import hashlib
import io
import random
import threading
from dataclasses import dataclass

import pytest

from syncapp.multipart import (
    ClientDisconnected,
    MultipartError,
    StreamingForm,
    boundary_of,
)
from syncapp.storage import ChecksumMismatch
from syncapp.storage.local import WRITEBACK_STEP, LocalRemote
from syncapp.uploads import receive_into
from tests.peers.process import wait_until


@dataclass
class Part:
    name: str
    filename: str | None
    content_type: str | None
    data: bytes


class ChoppyStream:
    """A body that arrives in random pieces, never more than asked, like a socket."""

    def __init__(self, data: bytes, rng: random.Random, max_piece: int) -> None:
        self._data = data
        self._pos = 0
        self._rng = rng
        self._max_piece = max_piece
        self.largest_read = 0

    def read(self, size: int = -1) -> bytes:
        self.largest_read = max(self.largest_read, size)
        if size < 0:
            size = len(self._data)
        piece = min(size, self._rng.randint(1, self._max_piece))
        data = self._data[self._pos : self._pos + piece]
        self._pos += len(data)
        return data


def tricky_bytes(rng: random.Random, boundary: bytes, size: int) -> bytes:
    """Random bytes salted with near-misses of the delimiter `\\r\\n--boundary`, never the
    delimiter itself, not even together with the delimiter that follows the content (RFC 2046:
    a sender picks a boundary that the content does not contain)."""
    delimiter = b"\r\n--" + boundary
    data = bytearray(_salted(rng, delimiter, boundary, size))
    while (index := (data + delimiter).find(delimiter)) < len(data):
        data[index] = ord("X")  # break the accidental delimiter at its CR
    return bytes(data)


def _salted(rng: random.Random, delimiter: bytes, boundary: bytes, size: int) -> bytes:
    near_misses = [
        delimiter[: rng.randint(1, len(delimiter) - 1)],  # cut short
        delimiter[2:],  # the boundary without its CRLF, as at the start of a body
        delimiter[:-1] + bytes([(delimiter[-1] + 1) % 256]),  # wrong last byte
        b"\r\n-",
        b"\r",
        b"\r\n\r\n",
        b"--" + boundary + b"--",
    ]
    pieces, length = [], 0
    while length < size:
        piece = rng.choice(near_misses) if rng.random() < 0.3 else rng.randbytes(rng.randint(0, 64))
        pieces.append(piece)
        length += len(piece)
    data = b"".join(pieces)[:size]
    if rng.random() < 0.5 and size >= len(delimiter):  # the content may end like a delimiter
        data = data[: size - len(delimiter) + 1] + delimiter[:-1]
    return data


def random_parts(rng: random.Random, boundary: bytes) -> list[Part]:
    parts = [
        Part(f"file{i}", f"archive-{i}.tar.gz", "application/gzip", b"")
        for i in range(rng.randint(0, 3))
    ]
    parts += [Part(f"field{i}", None, None, b"") for i in range(rng.randint(0, 3))]
    if not parts:
        parts.append(Part("only", None, None, b""))
    rng.shuffle(parts)
    for part in parts:
        size = rng.choice([0, 1, rng.randint(2, 300), rng.randint(300, 70_000)])
        part.data = tricky_bytes(rng, boundary, size)
    return parts


def encode(parts: list[Part], boundary: bytes, rng: random.Random) -> bytes:
    body = bytearray(b"preamble to ignore\r\n" if rng.random() < 0.3 else b"")
    for part in parts:
        padding = b" \t" if rng.random() < 0.2 else b""  # RFC 2046 transport padding
        body += b"--" + boundary + padding + b"\r\n"
        disposition = f'form-data; name="{part.name}"'
        if part.filename is not None:
            disposition += f'; filename="{part.filename}"'
        body += f"Content-Disposition: {disposition}\r\n".encode()
        if part.content_type:
            body += f"Content-Type: {part.content_type}\r\n".encode()
        body += b"\r\n" + part.data + b"\r\n"
    body += b"--" + boundary + b"--\r\n"
    if rng.random() < 0.3:
        body += b"epilogue to ignore"
    return bytes(body)


def parse(form: StreamingForm, rng: random.Random, skip: float) -> list[Part]:
    """Read the parts back with random read sizes; some parts are left unread (skipped)."""
    seen = []
    for part in form.parts():
        if rng.random() < skip:
            seen.append(Part(part.name, part.filename, part.content_type, b"<skipped>"))
            continue
        chunks = []
        while True:
            size = rng.choice([1, 7, rng.randint(1, 5000), 1024 * 1024])
            chunk = part.read(size)
            assert len(chunk) <= size
            if not chunk:
                break
            chunks.append(bytes(chunk))
        assert part.read() == b""  # stays at its end
        seen.append(Part(part.name, part.filename, part.content_type, b"".join(chunks)))
    return seen


def random_boundary(rng: random.Random) -> bytes:
    alphabet = "0123456789abcdefABCDEF-'()+_,./:=?"
    name = "".join(rng.choices(alphabet, k=rng.randint(1, 40)))
    return ("-" * rng.randint(0, 24) + name).encode()


@pytest.mark.parametrize("seed", range(300))
def test_random_bodies_round_trip(seed):
    rng = random.Random(seed)
    boundary = random_boundary(rng)
    parts = random_parts(rng, boundary)
    body = encode(parts, boundary, rng)
    stream = ChoppyStream(body, rng, max_piece=rng.choice([1, 3, 100, 5000, 100_000]))
    chunk_size = rng.choice([1, 2, 64, 1000, 65_536, 1024 * 1024])
    form = StreamingForm(stream, boundary, chunk_size=chunk_size)
    skip = rng.choice([0.0, 0.3])

    seen = parse(form, rng, skip)

    assert [(p.name, p.filename, p.content_type) for p in seen] == [
        (p.name, p.filename, p.content_type) for p in parts
    ]
    for got, sent in zip(seen, parts, strict=True):
        if got.data != b"<skipped>":
            assert got.data == sent.data, f"part {sent.name} differs"
    assert stream.largest_read <= chunk_size  # memory stays bounded by the chunk size


@pytest.mark.parametrize("seed", range(40))
def test_truncated_body_is_a_disconnect(seed):
    rng = random.Random(1000 + seed)
    boundary = random_boundary(rng)
    parts = random_parts(rng, boundary)
    body = encode(parts, boundary, rng)
    closing = body.rindex(b"--" + boundary + b"--")
    cut = rng.randint(len(boundary) + 4, closing + len(boundary) + 3)  # before the closing "--"
    form = StreamingForm(ChoppyStream(body[:cut], rng, 5000), boundary, chunk_size=4096)
    with pytest.raises(ClientDisconnected):
        parse(form, rng, skip=0.0)


def test_large_file_part_in_one_chunk_per_read():
    """A big file part comes back in chunks of the reader's size, delimiters inside intact."""
    rng = random.Random(7)
    boundary = b"----bench0123456789"
    data = tricky_bytes(rng, boundary, 5 * 1024 * 1024 + 17)
    body = encode([Part("file", "a.tar.gz", "application/gzip", data)], boundary, rng)
    form = StreamingForm(ChoppyStream(body, rng, 300_000), boundary, chunk_size=1024 * 1024)
    (part,) = list(_read_all(form))
    assert part == data


def _read_all(form: StreamingForm):
    for part in form.parts():
        yield b"".join(part.chunks())


def test_body_without_a_boundary_is_refused():
    form = StreamingForm(ChoppyStream(b"x" * 40_000, random.Random(1), 1000), b"abc")
    with pytest.raises(MultipartError):
        list(form.parts())


def test_part_without_a_name_is_refused():
    body = b'--abc\r\nContent-Disposition: form-data; filename="a"\r\n\r\nx\r\n--abc--\r\n'
    form = StreamingForm(ChoppyStream(body, random.Random(1), 10), b"abc")
    with pytest.raises(MultipartError, match="no name"):
        list(form.parts())


@pytest.mark.parametrize(
    ("content_type", "boundary"),
    [
        ("multipart/form-data; boundary=abc", b"abc"),
        ('multipart/form-data; boundary="a b:c"', b"a b:c"),
        ("Multipart/Form-Data; charset=utf-8; boundary=------xyz", b"------xyz"),
    ],
)
def test_boundary_of(content_type, boundary):
    assert boundary_of(content_type) == boundary


@pytest.mark.parametrize("content_type", [None, "application/json", "multipart/form-data"])
def test_boundary_of_refuses(content_type):
    with pytest.raises(MultipartError):
        boundary_of(content_type)


# -- the upload path: reader -> receive_into -> local folder ------------------------------------

BIG = WRITEBACK_STEP + 5 * 1024 * 1024 + 3  # several chunks, past one writeback step


def big_upload(rng: random.Random) -> tuple[bytes, bytes, bytes]:
    boundary = b"----upload" + rng.randbytes(8).hex().encode()
    data = tricky_bytes(rng, boundary, 64 * 1024) + rng.randbytes(BIG)
    parts = [Part("type", None, None, b"FULL"), Part("file", "a.tar.gz", "application/gzip", data)]
    return boundary, data, encode(parts, boundary, rng)


def stored_files(root) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def test_upload_path_stores_the_exact_bytes(tmp_path):
    rng = random.Random(11)
    boundary, data, body = big_upload(rng)
    remote = LocalRemote(root=str(tmp_path))
    form = StreamingForm(ChoppyStream(body, rng, 300_000), boundary)
    received = None
    for part in form.parts():
        if part.name == "file":
            received = receive_into(remote, "in/a.tar.gz", part.chunks())
        else:
            assert part.read_text(limit=10) == "FULL"
    assert received is not None
    assert received.size == len(data)
    assert received.md5 == hashlib.md5(data).hexdigest() == received.entry.md5
    assert received.sha256 == hashlib.sha256(data).hexdigest()
    assert (tmp_path / "in" / "a.tar.gz").read_bytes() == data
    assert stored_files(tmp_path) == ["in/a.tar.gz"]


def test_upload_cut_short_leaves_nothing(tmp_path):
    rng = random.Random(12)
    boundary, _, body = big_upload(rng)
    remote = LocalRemote(root=str(tmp_path))
    threads_before = threading.active_count()
    cut = body[: len(body) // 2]  # the client goes away in the middle of the file
    form = StreamingForm(ChoppyStream(cut, rng, 300_000), boundary)
    with pytest.raises(ClientDisconnected):
        for part in form.parts():
            if part.name == "file":
                receive_into(remote, "in/a.tar.gz", part.chunks())
    assert stored_files(tmp_path) == []
    wait_until(lambda: threading.active_count() <= threads_before, 10, "upload threads to end")


def test_large_write_with_wrong_md5_stores_nothing(tmp_path):
    data = random.Random(13).randbytes(BIG)
    remote = LocalRemote(root=str(tmp_path))
    remote.write("keep.bin", io.BytesIO(b"previous"))
    with pytest.raises(ChecksumMismatch):
        remote.write("keep.bin", io.BytesIO(data), md5="0" * 32)
    assert (tmp_path / "keep.bin").read_bytes() == b"previous"
    assert stored_files(tmp_path) == ["keep.bin"]
    entry = remote.write("keep.bin", io.BytesIO(data), md5=hashlib.md5(data).hexdigest())
    assert entry.md5 == hashlib.md5(data).hexdigest()
    assert (tmp_path / "keep.bin").read_bytes() == data
