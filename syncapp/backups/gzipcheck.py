"""Is a file one complete gzip stream? Followed chunk by chunk while an upload arrives.

The 2-byte magic said only how a file starts: a FULL cut off by a full disk or a killed `tar`
passed it and was then listed and verified as in sync. Inflating the whole stream checks what
`gzip -t` checks: every deflate block, each member's CRC-32 and length, and that the last member
ends. Several members one after another are one valid file (`cat a.gz b.gz`); zero bytes after
the end (tape padding) are tolerated, anything else after it is not.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable

#: Inflated bytes per call: a highly compressible chunk (up to ~1000:1) must not become a
#: gigabyte in memory; the output is thrown away.
OUTPUT_STEP = 1024 * 1024


class IncompleteGzip(Exception):
    """The stream is truncated, corrupt, or followed by something that is not gzip."""


class GzipFollower:
    """feed() every chunk in order, then finish(); either raises IncompleteGzip."""

    def __init__(self) -> None:
        self._inflater = zlib.decompressobj(wbits=31)  # 31: gzip header and trailer
        self._member_open = False  # a member started and has not ended yet
        self._members = 0
        self._padding = False  # zeros after the last member

    def feed(self, data: bytes) -> None:
        while data:
            if not self._member_open:
                if self._padding or (self._members and not data.strip(b"\0")):
                    if data.strip(b"\0"):
                        raise IncompleteGzip("data follows the zero padding after the stream")
                    self._padding = True
                    return
                if self._members:
                    self._inflater = zlib.decompressobj(wbits=31)
                self._member_open = True
            data = self._inflate(data)

    def _inflate(self, data: bytes) -> bytes:
        """Inflate `data` into the open member; returns what follows the member's end."""
        inflater = self._inflater
        try:
            inflater.decompress(data, OUTPUT_STEP)
            while inflater.unconsumed_tail and not inflater.eof:
                inflater.decompress(inflater.unconsumed_tail, OUTPUT_STEP)
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
