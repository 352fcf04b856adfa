"""Deterministic test data as streams, so big files never sit in memory or in the repository."""

from __future__ import annotations

import hashlib
import io
import random

BLOCK = 1024 * 1024


class PatternStream(io.RawIOBase):
    """`size` pseudo-random bytes derived from `seed`; the same arguments give the same bytes."""

    def __init__(self, size: int, seed: int = 0, fail_after: int | None = None) -> None:
        self.size = size
        self.fail_after = fail_after
        self._pos = 0
        rng = random.Random(seed)
        self._block = rng.randbytes(BLOCK)
        self._seed = seed

    def readable(self) -> bool:
        return True

    def _byte_at_block(self, index: int) -> bytes:
        # Each block differs (its index is mixed in), so a misplaced block changes the MD5.
        stamp = (index * 2654435761 + self._seed).to_bytes(8, "little")
        return stamp + self._block[8:]

    def read(self, n: int = -1) -> bytes:
        if self.fail_after is not None and self._pos >= self.fail_after:
            raise OSError("simulated read failure")
        remaining = self.size - self._pos
        if n is None or n < 0 or n > remaining:
            n = remaining
        if self.fail_after is not None:
            n = min(n, self.fail_after - self._pos) or n
        out = bytearray()
        while len(out) < n:
            index, offset = divmod(self._pos + len(out), BLOCK)
            block = self._byte_at_block(index)
            out += block[offset : offset + n - len(out)]
        self._pos += len(out)
        return bytes(out)

    def readinto(self, buffer) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def pattern_md5(size: int, seed: int = 0) -> str:
    md5 = hashlib.md5()
    stream = PatternStream(size, seed)
    while chunk := stream.read(BLOCK):
        md5.update(chunk)
    return md5.hexdigest()


def md5_of_stream(reader) -> str:
    md5 = hashlib.md5()
    while chunk := reader.read(BLOCK):
        md5.update(chunk)
    return md5.hexdigest()
