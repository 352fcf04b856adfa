"""syncapp's multipart reader against streaming-form-data (issue 23: libraries before our own code).

    python bench/multipart_parsers.py [--size 1GiB] [--repeat 3] [--source memory,socket]
                                      [--cases file,receive,fields]

streaming-form-data is not one of syncapp's requirements: run this with a Python that has it
(`pip install -r bench/requirements.txt` into a venv of its own). In one process, the same body
(a boundary, then the parts) goes in 1 MiB reads through:
- `syncapp.multipart.StreamingForm` (pull: the caller iterates the parts and reads each);
- `streaming_form_data.StreamingFormDataParser` (push: the body is fed to the parser, which calls
  the target registered for the part's name), in the adapter a swap would need to keep
  `receive_form`'s pull interface (feed a read, hand on what the targets collected).
Cases:
- file: one file part of --size bytes, parsing alone (the part's bytes are counted, not kept);
- receive: the same body received the way POST /upload stores it, `uploads.receive_into` into a
  local folder (the parser's chunks SHA-256'd on the caller's thread, written and MD5'd on the
  writer's and hasher's threads): what a parser changes in the whole receive;
- fields: many small parts (--fields text fields of 256 bytes under 8 names), the per-part cost.
Sources: `memory` (reads slice a body held in memory; the file part is one random 4 MiB block
repeated) and `socket` (a forked child writes the same body into a socket pair: its CPU is not
counted). Rounds take the parsers in turn; each figure is the best wall time of --repeat rounds
(noise on a shared machine only adds time), with the process CPU seconds (all threads) of that
round and the ratio library / syncapp.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import socket
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from syncapp.config import parse_size  # noqa: E402
from syncapp.multipart import CHUNK_SIZE, StreamingForm  # noqa: E402
from syncapp.storage.local import LocalRemote  # noqa: E402
from syncapp.uploads import receive_into  # noqa: E402

try:
    from streaming_form_data import StreamingFormDataParser
    from streaming_form_data.targets import BaseTarget
except ImportError:
    sys.exit("streaming-form-data is missing: pip install -r bench/requirements.txt (in a venv)")

BOUNDARY = b"----syncappbench7MA4YWxkTrZu0gW"
CONTENT_TYPE = f"multipart/form-data; boundary={BOUNDARY.decode()}"
BLOCK = 4 * 1024 * 1024
FIELD_NAMES = [f"field{i}" for i in range(8)]
FIELD_SIZE = 256


# -- bodies --------------------------------------------------------------------------------------


def part_head(name: str, filename: str | None = None) -> bytes:
    disposition = f'form-data; name="{name}"'
    if filename is not None:
        disposition += f'; filename="{filename}"\r\nContent-Type: application/octet-stream'
    return b"--" + BOUNDARY + f"\r\nContent-Disposition: {disposition}\r\n\r\n".encode()


CLOSE = b"--" + BOUNDARY + b"--\r\n"


class Body:
    """A multipart body as pieces: bytes, or (block, count) for a block repeated `count` times
    (a 1 GiB file part without 1 GiB of memory)."""

    def __init__(self, pieces: list[bytes | tuple[bytes, int]]) -> None:
        self.pieces = pieces
        self.size = sum(len(p) if isinstance(p, bytes) else len(p[0]) * p[1] for p in pieces)

    def stream(self) -> Iterator[bytes]:
        for piece in self.pieces:
            if isinstance(piece, bytes):
                yield piece
            else:
                block, count = piece
                for _ in range(count):
                    yield block


def file_body(size: int) -> tuple[Body, int]:
    block = os.urandom(BLOCK)
    count, rest = divmod(size, BLOCK)
    pieces: list[bytes | tuple[bytes, int]] = [
        part_head("type") + b"backup\r\n",
        part_head("file", "archive.tar.gz"),
        (block, count),
        block[:rest] + b"\r\n" + CLOSE,
    ]
    return Body(pieces), count * BLOCK + rest


def fields_body(count: int) -> Body:
    value = (b"v" * (FIELD_SIZE - 1)) + b"\n"
    text = b"".join(
        part_head(FIELD_NAMES[i % len(FIELD_NAMES)]) + value + b"\r\n" for i in range(count)
    )
    return Body([text + CLOSE])


class MemoryReader(io.RawIOBase):
    """`read(n)` returns up to n fresh bytes of the body, as a socket read would."""

    def __init__(self, body: Body) -> None:
        self._pieces = body.stream()
        self._buffer = memoryview(b"")

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        while not self._buffer:
            piece = next(self._pieces, None)
            if piece is None:
                return b""
            self._buffer = memoryview(piece)
        data = bytes(self._buffer[:size])
        self._buffer = self._buffer[size:]
        return data


class SocketSource:
    """A forked child writes the body into one end of a socket pair; the reader gets the other."""

    def __init__(self, body: Body) -> None:
        self._body = body
        self._pid = 0

    def __enter__(self) -> BinaryIO:
        ours, theirs = socket.socketpair()
        for end in (ours, theirs):
            end.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
            end.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 * 1024 * 1024)
        self._pid = os.fork()
        if self._pid == 0:  # the writer
            ours.close()
            try:
                for piece in self._body.stream():
                    theirs.sendall(piece)
                theirs.shutdown(socket.SHUT_WR)
            finally:
                os._exit(0)
        theirs.close()
        self._socket = ours
        return ours.makefile("rb", buffering=CHUNK_SIZE)

    def __exit__(self, *exc: object) -> None:
        self._socket.close()
        os.waitpid(self._pid, 0)


# -- the two parsers, each as receive_form would drive it -----------------------------------------


@dataclass(frozen=True)
class Start:
    """A part begins; the bytes that follow (until the next Start) are its content."""

    name: str
    is_file: bool


Events = Iterator[Start | bytes]


def syncapp_events(stream: BinaryIO, names: list[str]) -> Events:
    for part in StreamingForm(stream, BOUNDARY).parts():
        yield Start(part.name, part.filename is not None)
        yield from part.chunks()


class _Collect(BaseTarget):
    """Keeps the parts (and their bytes) the parser hands it until the adapter passes them on."""

    def __init__(self, name: str, pending: list[Start | bytes]) -> None:
        super().__init__()
        self._name = name
        self._pending = pending

    def on_start(self) -> None:
        # the parser sets the filename (a file part) before it starts the target
        self._pending.append(Start(self._name, self.multipart_filename is not None))
        self.multipart_filename = None  # the next part of this name may be a plain field

    def on_data_received(self, chunk: bytes) -> None:
        self._pending.append(chunk)


def library_events(stream: BinaryIO, names: list[str]) -> Events:
    """streaming-form-data behind syncapp's pull interface, as `receive_form` would need it:
    feed one read, hand on what the targets collected. The parser only delivers the parts whose
    names were registered before parsing; the others are dropped."""
    parser = StreamingFormDataParser(headers={"Content-Type": CONTENT_TYPE})
    pending: list[Start | bytes] = []
    for name in names:
        parser.register(name, _Collect(name, pending))
    while data := stream.read(CHUNK_SIZE):
        parser.data_received(data)
        yield from pending
        pending.clear()


PARSERS: dict[str, Callable[[BinaryIO, list[str]], Events]] = {
    "syncapp": syncapp_events,
    "streaming-form-data": library_events,
}


# -- what is done with the parts ------------------------------------------------------------------


def file_chunks(events: Events) -> Iterator[bytes]:
    """The bytes of the file parts."""
    in_file = False
    for event in events:
        if isinstance(event, Start):
            in_file = event.is_file
        elif in_file:
            yield event


def count_file(events: Events, expected: int) -> None:
    got = sum(len(chunk) for chunk in file_chunks(events))
    if got != expected:
        raise RuntimeError(f"parsed {got} bytes of file, expected {expected}")


def receive_file(events: Events, expected: int, folder: Path) -> None:
    received = receive_into(LocalRemote(root=str(folder)), "upload.bin", file_chunks(events))
    if received.size != expected:
        raise RuntimeError(f"received {received.size} bytes, expected {expected}")
    (folder / "upload.bin").unlink()


def count_fields(events: Events, expected: int) -> None:
    values: dict[str, str] = {}
    parts = 0
    name = ""
    for event in events:
        if isinstance(event, Start):
            name, parts = event.name, parts + 1
            values[name] = ""
        else:
            values[name] += event.decode()
    if parts != expected or any(len(v) != FIELD_SIZE for v in values.values()):
        raise RuntimeError(f"parsed {parts} fields, expected {expected}")


# -- running -------------------------------------------------------------------------------------


@dataclass
class Figure:
    wall: float
    cpu: float


def run_once(body: Body, source: str, parser: str, consume: Callable[[Events], None]) -> Figure:
    names = ["type", "file", *FIELD_NAMES]
    wall, cpu = time.perf_counter(), time.process_time()
    if source == "memory":
        consume(PARSERS[parser](MemoryReader(body), names))
    else:
        with SocketSource(body) as stream:
            consume(PARSERS[parser](stream, names))
    return Figure(time.perf_counter() - wall, time.process_time() - cpu)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--size", default="1GiB", help="the file part's size")
    ap.add_argument("--fields", type=int, default=50_000, help="parts in the fields case")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--source", default="memory,socket")
    ap.add_argument("--cases", default="file,receive,fields")
    ap.add_argument("--workdir", default=None, help="folder for the received files (a temp dir)")
    args = ap.parse_args()

    size = parse_size(args.size)
    big, file_size = file_body(size)
    small = fields_body(args.fields)
    folder = Path(args.workdir or tempfile.mkdtemp(prefix="multipart-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    cases: dict[str, tuple[Body, Callable[[Events], None]]] = {
        "file": (big, lambda events: count_file(events, file_size)),
        "receive": (big, lambda events: receive_file(events, file_size, folder)),
        "fields": (small, lambda events: count_fields(events, args.fields)),
    }
    print(
        f"file part {file_size:,} bytes; fields {args.fields:,} x {FIELD_SIZE} B;"
        f" repeat {args.repeat}; load average {os.getloadavg()[0]:.2f}"
    )
    try:
        for case in args.cases.split(","):
            body, consume = cases[case]
            for source in args.source.split(","):
                results: dict[str, list[Figure]] = {name: [] for name in PARSERS}
                for _ in range(args.repeat):
                    for parser in PARSERS:
                        results[parser].append(run_once(body, source, parser, consume))
                report(case, source, body.size, args.fields if case == "fields" else 0, results)
    finally:
        if args.workdir is None:
            shutil.rmtree(folder, ignore_errors=True)
    print(f"load average at the end {os.getloadavg()[0]:.2f}")


def report(case: str, source: str, size: int, parts: int, results: dict[str, list[Figure]]) -> None:
    best = {name: min(figures, key=lambda f: f.wall) for name, figures in results.items()}
    base = best["syncapp"]
    for name, figure in best.items():
        walls = ", ".join(f"{f.wall:.3f}" for f in results[name])
        cpus = ", ".join(f"{f.cpu:.3f}" for f in results[name])
        rate = (
            f"{parts / figure.wall:8.0f} parts/s"
            if parts
            else f"{size / figure.wall / 1e6:8.0f} MB/s"
        )
        print(
            f"{case:8} {source:7} {name:20} {rate}"
            f"  best {figure.wall:.3f} s, CPU {figure.cpu:.3f} s"
            f"  x syncapp: time {figure.wall / base.wall:.2f}, CPU {figure.cpu / base.cpu:.2f}"
            f"  (runs: {walls} s; CPU {cpus} s)"
        )


if __name__ == "__main__":
    main()
