"""Splitting a stream into the parts or blocks of an object-store upload (S3, Azure Blob)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import BinaryIO


def read_exact(reader: BinaryIO, size: int) -> bytes:
    """Up to `size` bytes: streams may return short reads, so keep reading until full or EOF."""
    pieces: list[bytes] = []
    got = 0
    while got < size:
        data = reader.read(size - got)
        if not data:
            break
        pieces.append(data)
        got += len(data)
    return b"".join(pieces)


def part_sizes(
    part_size: int, total: int | None, *, largest: int, most: int, grow_every: int
) -> Iterator[int]:
    """Part sizes that keep an upload within the service's `most` parts of at most `largest`.

    With a known size one size fits all; with an unknown size the parts grow by `part_size`
    every `grow_every` parts, so the part count stays bounded for very long streams."""
    if total is not None:
        size = min(largest, max(part_size, math.ceil(total / most)))
        while True:
            yield size
    number = 0
    while True:
        yield min(largest, part_size * (1 + number // grow_every))
        number += 1


def pieces(reader: BinaryIO, sizes: Iterator[int]) -> Iterator[bytes]:
    while piece := read_exact(reader, next(sizes)):
        yield piece


def chain(head: list[bytes], rest: Iterator[bytes]) -> Iterator[bytes]:
    # Hand the buffered pieces over one by one so their memory is released as parts go out.
    while head:
        yield head.pop(0)
    yield from rest


def modified_metadata(modified: datetime | None) -> dict[str, str]:
    """Object metadata carrying a file's modification time (stores keep their own otherwise)."""
    if modified is None:
        return {}
    stamp = modified if modified.tzinfo else modified.replace(tzinfo=UTC)
    return {"modified": stamp.astimezone(UTC).isoformat()}
