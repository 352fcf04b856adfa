"""Is a file one complete gzip stream? Followed chunk by chunk while an upload arrives.

The 2-byte magic said only how a file starts: a FULL cut off by a full disk or a killed `tar`
passed it and was then listed and verified as in sync. Inflating the whole stream checks what
`gzip -t` checks: every deflate block, each member's CRC-32 and length, and that the last member
ends. Several members one after another are one valid file (`cat a.gz b.gz`); zero bytes after
the end (tape padding) are tolerated, anything else after it is not.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable

#: Inflated bytes per call: a highly compressible chunk (up to ~1000:1) must not become a
#: gigabyte in memory; the output is thrown away.
OUTPUT_STEP = 1024 * 1024
#: Compressed bytes per call. The output of a call is a new bytes object about this size for
#: incompressible data (random, or already compressed: most archives): below the worker's
#: 256 KiB mmap threshold it comes from the heap, where 1 MiB pieces were each an mmap and 256
#: page faults (inflating 64 MiB of such a stream: 0.10 CPU-s in 1 MiB pieces, 0.03 in 64 KiB
#: ones, with the worker's malloc settings).
INPUT_STEP = 64 * 1024


class IncompleteGzip(Exception):
    """The stream is truncated, corrupt, or followed by something that is not gzip."""


class GzipFollower:
    """feed() every chunk in order, then finish(); either raises IncompleteGzip."""

    def __init__(self, sink: Callable[[bytes], None] | None = None) -> None:
        #: given every inflated piece in order (the scrub's tar check); else it is thrown away
        self._sink = sink
        self._inflater = zlib.decompressobj(wbits=31)  # 31: gzip header and trailer
        self._member_open = False  # a member started and has not ended yet
        self._members = 0
        self._padding = False  # zeros after the last member

    def feed(self, data: bytes | memoryview) -> None:
        view = memoryview(data)
        for start in range(0, len(view), INPUT_STEP):
            self._feed(view[start : start + INPUT_STEP])

    def _feed(self, data: bytes | memoryview) -> None:
        while data:
            if not self._member_open:
                if self._padding or self._members:  # between members, or after the last
                    data = bytes(data)
                if self._padding or (self._members and not data.strip(b"\0")):
                    if data.strip(b"\0"):
                        raise IncompleteGzip("data follows the zero padding after the stream")
                    self._padding = True
                    return
                if self._members:
                    self._inflater = zlib.decompressobj(wbits=31)
                self._member_open = True
            data = self._inflate(data)

    def _inflate(self, data: bytes | memoryview) -> bytes:
        """Inflate `data` into the open member; returns what follows the member's end."""
        inflater, sink = self._inflater, self._sink
        try:
            out = inflater.decompress(data, OUTPUT_STEP)
            if sink is not None:
                sink(out)
            while inflater.unconsumed_tail and not inflater.eof:
                out = inflater.decompress(inflater.unconsumed_tail, OUTPUT_STEP)
                if sink is not None:
                    sink(out)
        except zlib.error as exc:
            where = f"member {self._members + 1}" if self._members else "the stream"
            raise IncompleteGzip(f"{where} is corrupt ({exc})") from None
        if not inflater.eof:
            return b""
        self._member_open = False
        self._members += 1
        return inflater.unused_data

    def finish(self) -> None:
        if self._member_open or not self._members:
            raise IncompleteGzip("the stream ends before its last member does (truncated)")


def check_complete(chunks: Iterable[bytes]) -> None:
    """Raise IncompleteGzip unless `chunks` make one complete gzip file."""
    follower = GzipFollower()
    for chunk in chunks:
        follower.feed(chunk)
    follower.finish()


class IncompleteTar(Exception):
    """The inflated bytes are not one complete tar stream (truncated, damaged headers)."""


BLOCK = 512
ZERO_BLOCK = bytes(BLOCK)
#: typeflags whose size field announces no data blocks (links, devices, folders, FIFOs)
NO_DATA = frozenset(b"123456")


def _number(field: bytes) -> int:
    """A tar header's numeric field: octal digits (NUL or space ended), or GNU's base-256."""
    if field[0] & 0x80:  # base-256: the rest of the field, big-endian (GNU, star)
        return int.from_bytes(bytes([field[0] & 0x7F]) + field[1:], "big")
    text = field.split(b"\0", 1)[0].strip(b" ")
    return int(text, 8) if text else 0


class TarFollower:
    """feed() the inflated bytes in order, then finish(); either raises IncompleteTar.

    What `tar -t` needs of a stream: each member's 512-byte header with a right checksum, the
    data blocks its size announces, and the end-of-archive zero blocks (GNU tar accepts one;
    zero record padding may follow). Member data is skipped, never copied or kept: a gzip-valid
    archive cut at a member boundary or inside one is "truncated", which `gzip -t` cannot see.
    """

    def __init__(self) -> None:
        self._skip = 0  # data (and padding) bytes of the current member still to pass
        self._header = bytearray()
        self._zero_blocks = 0
        self.members = 0

    def feed(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            if self._skip:
                step = min(self._skip, len(view))
                self._skip -= step
                view = view[step:]
                continue
            if self._zero_blocks:  # after the end marker: only zero padding may follow
                if bytes(view).strip(b"\0"):
                    raise IncompleteTar("data follows the end-of-archive marker")
                return
            need = BLOCK - len(self._header)
            self._header += view[:need]
            view = view[need:]
            if len(self._header) == BLOCK:
                block = bytes(self._header)
                self._header.clear()
                self._block(block)

    def _block(self, block: bytes) -> None:
        if block == ZERO_BLOCK:
            self._zero_blocks += 1
            return
        try:
            recorded = _number(block[148:156])
            size = _number(block[124:136])
        except ValueError:
            raise IncompleteTar(f"header {self.members + 1} is not a tar header") from None
        if recorded != sum(block[:148]) + 8 * 32 + sum(block[156:]):
            raise IncompleteTar(f"header {self.members + 1} has a wrong checksum (damaged)")
        if block[156] not in NO_DATA:
            self._skip = -(-size // BLOCK) * BLOCK
        self.members += 1

    def finish(self) -> None:
        if self._skip or self._header:
            raise IncompleteTar(f"the tar stream ends inside member {self.members} (truncated)")
        if not self._zero_blocks:
            raise IncompleteTar("the tar stream has no end-of-archive marker (truncated)")
