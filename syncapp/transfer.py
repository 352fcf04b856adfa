"""Verified copies between any two remotes; every feature that copies bytes goes through here.

`copy_verified` streams the source into the destination's atomic `write`, which hashes the bytes
as they pass; the destination is then checked against that hash (by its own MD5 where the service
keeps one, else by size), and transient failures are retried with backoff and jitter.
`move_verified` deletes the source only after such a copy, and only if the source did not change
while it was being copied.

Both are for bytes that cross from one remote to another. A file that changes name within one
remote is `Remote.move`'s: a rename or a copy on the server where the backend's `capabilities`
say so (no byte crosses the network), else a copy through `write` then a delete.
"""

from __future__ import annotations

import io
import logging
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, BinaryIO

from .storage import ChecksumMismatch, Entry, Remote, RemoteError, RemoteNotFound, RemoteUnavailable
from .storage.local import ConfinedLocalRemote

log = logging.getLogger(__name__)

#: progress(bytes_done, bytes_total); total is None when the source did not say.
ProgressCallback = Callable[[int, int | None], None]


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 30.0

    @classmethod
    def from_settings(cls, transfer: Any) -> RetryPolicy:
        """From the `transfer` settings section (settings().transfer)."""
        return cls(transfer.attempts, transfer.base_delay, transfer.max_delay)

    def delays(self) -> Iterator[float]:
        """Exponential backoff with full jitter: retries of many clients do not march in step."""
        for attempt in range(self.attempts - 1):
            yield random.uniform(0, min(self.max_delay, self.base_delay * 2**attempt))


@dataclass(frozen=True)
class TransferResult:
    source_path: str
    destination_path: str
    size: int
    md5: str
    attempts: int
    verified_by: str  # "server-md5" or "size+write-hash"


class SourceChanged(RemoteError):
    """The source was modified while it was copied; the copy does not represent it."""


class _ProgressReader(io.RawIOBase):
    """Counts bytes read from the source and reports them, never going backwards on a retry.

    `at_end` runs when the source is exhausted, before the destination commits the file: raising
    there aborts the atomic write, so nothing of a source that changed meanwhile lands.
    """

    def __init__(
        self,
        stream: BinaryIO,
        total: int | None,
        state: dict,
        callback,
        at_end: Callable[[], None] | None = None,
    ) -> None:
        self._stream = stream
        self._total = total
        self._state = state
        self._callback = callback
        self._at_end = at_end
        self._done = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(size)
        if not data and size != 0 and self._at_end is not None:
            at_end, self._at_end = self._at_end, None
            at_end()
        if data:
            self._done += len(data)
            if self._callback is not None and self._done > self._state["reported"]:
                self._state["reported"] = self._done
                self._callback(self._done, self._total)
        return data

    def readinto(self, buffer) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def _verify_destination(dst: Remote, path: str, written: Entry, size: int | None) -> str:
    server_md5 = written.server_md5
    if server_md5 is None and "md5" in dst.capabilities.hashes:  # else no round trip for nothing
        server_md5 = dst.checksum(path)
    if server_md5 is not None:
        if server_md5 != written.md5:
            raise ChecksumMismatch(
                f"{dst.describe()}:{path}: stored MD5 {server_md5}, sent {written.md5}"
            )
        return "server-md5"
    # a local write's Entry is the written file's own fstat: no need to look it up again
    landed = written if dst.capabilities.write_stat else dst.stat(path)
    if landed is None:
        raise RemoteError(f"{dst.describe()}:{path}: the file is missing right after writing it")
    if landed.size != written.size or (size is not None and landed.size != size):
        raise ChecksumMismatch(
            f"{dst.describe()}:{path}: {landed.size} bytes stored, {written.size} sent"
        )
    return "size+write-hash"


def _unchanged_check(src: Remote, path: str, before: Entry) -> Callable[[], None]:
    def check() -> None:
        now = src.stat(path)
        if now is None or (now.size, now.modified) != (before.size, before.modified):
            raise SourceChanged(f"{src.describe()}:{path} changed while it was read")

    return check


def copy_verified(
    src: Remote,
    src_path: str,
    dst: Remote,
    dst_path: str,
    *,
    retry: RetryPolicy | None = None,
    progress: ProgressCallback | None = None,
    expected_md5: str | None = None,
    modified: datetime | None = None,
    stable_source: bool = False,
    known: Entry | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> TransferResult:
    """Copy one file and prove it arrived intact; raises RemoteUnavailable once retries run out.

    With `stable_source`, the source is looked at again once it has been read: if its size or
    modification time changed (it is still being written), SourceChanged is raised and the
    destination is left as it was. `known` is what the caller already knows of the source (its
    size and modification time, e.g. from its own scan): it is not stated again, and with
    `stable_source` every attempt must find the file still as `known` says once read.
    """
    retry = retry or RetryPolicy()
    delays = retry.delays()
    # folder to folder on this machine, nobody watching the bytes: straight from descriptor to
    # descriptor, with the same atomic write, checks and hash (ConfinedLocalRemote.copy_in)
    direct = (
        progress is None
        and isinstance(src, ConfinedLocalRemote)
        and isinstance(dst, ConfinedLocalRemote)
    )
    state = {"reported": 0}
    attempt = 0
    while True:
        attempt += 1
        try:
            source = known or src.stat(src_path)
            if source is None:
                raise RemoteNotFound(f"{src.describe()}:{src_path}")
            expected = expected_md5 or source.md5
            at_end = _unchanged_check(src, src_path, source) if stable_source else None
            if direct and source.modified is not None:
                written = dst.copy_in(  # type: ignore[attr-defined]
                    src,
                    src_path,
                    dst_path,
                    size=source.size,
                    modified=modified or source.modified,
                    md5=expected,
                    at_end=at_end,
                )
                verified_by = _verify_destination(dst, dst_path, written, source.size)
                return TransferResult(
                    src_path, dst_path, written.size, written.md5 or "", attempt, verified_by
                )
            with src.open_read(src_path) as raw:
                reader = _ProgressReader(raw, source.size, state, progress, at_end)
                written = dst.write(
                    dst_path,
                    reader,  # type: ignore[arg-type]
                    size=source.size,
                    md5=expected,
                    modified=modified or source.modified,
                )
            verified_by = _verify_destination(dst, dst_path, written, source.size)
            return TransferResult(
                src_path, dst_path, written.size, written.md5 or "", attempt, verified_by
            )
        except (RemoteUnavailable, ChecksumMismatch) as exc:
            delay = next(delays, None)
            if delay is None:
                raise
            log.warning(
                "copy %s -> %s failed (attempt %d of %d): %s; retrying in %.1fs",
                src_path,
                dst_path,
                attempt,
                retry.attempts,
                exc,
                delay,
            )
            sleep(delay)


def move_verified(
    src: Remote,
    src_path: str,
    dst: Remote,
    dst_path: str,
    **options,
) -> TransferResult:
    """copy_verified, then delete the source if the copy verified and the source is unchanged."""
    before = options.get("known") or src.stat(src_path)
    result = copy_verified(src, src_path, dst, dst_path, **options)
    after = src.stat(src_path)
    if (
        before is None
        or after is None
        or (after.size, after.modified) != (before.size, before.modified)
    ):
        raise SourceChanged(
            f"{src.describe()}:{src_path} changed while it was copied; the source is kept"
        )
    if after.size != result.size or (after.md5 is not None and after.md5 != result.md5):
        raise SourceChanged(
            f"{src.describe()}:{src_path} differs from its copy; the source is kept"
        )
    src.delete(src_path)
    return result
