"""A stored remote as its users see it in errors: by its name, never its URL, host or credentials.

A backend's errors quote what it talked to (an HTTP URL, `host='nas.lan', port=445`, an S3
endpoint, a user name). A sync job's errors are stored and shown to its owner, who may use a
remote without being allowed to know where it is. Every error coming out of a NamedRemote keeps
its class (the sync engine tells "unreachable" from "full" from "refused" by it) but says only
which remote failed, how, and on which path; the backend's own words go to the server log, whose
records without a job are shown to administrators only.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import BinaryIO

from ..storage import (
    ChecksumMismatch,
    Entry,
    Remote,
    RemoteConfigError,
    RemoteError,
    RemoteFull,
    RemoteNotFound,
    RemoteUnavailable,
)

log = logging.getLogger(__name__)

#: most specific first: the first class an error is an instance of says what users read
_HOW: tuple[tuple[type[RemoteError], str], ...] = (
    (RemoteFull, "is full"),
    (ChecksumMismatch, "stored other bytes than were sent"),
    (RemoteUnavailable, "did not answer"),
    (RemoteNotFound, "has no such file or folder"),
    (RemoteConfigError, "cannot be used with its settings (an administrator can test it)"),
    (RemoteError, "refused the operation"),
)


def named_error(exc: BaseException, name: str, path: str) -> RemoteError:
    """`exc` retold without the backend's words; those are logged for administrators."""
    log.warning("stored remote %r, %s: %s: %s", name, path or "/", type(exc).__name__, exc)
    where = f" ({path})" if path else ""
    for cls, how in _HOW:
        if isinstance(exc, cls):
            return cls(f"remote {name!r} {how}{where}")
    return RemoteError(f"remote {name!r} failed{where}")  # not a RemoteError: a backend's bug


class _WatchedStream(io.RawIOBase):
    """The bytes a write reads; remembers an error of the reading side (e.g. the source changed
    while it was copied), which is the source's failure, not the remote's, and is re-raised
    as it was."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self.error: BaseException | None = None

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        try:
            return self._stream.read(size)
        except BaseException as exc:
            self.error = exc
            raise

    def readinto(self, buffer) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


class NamedRemote(Remote):
    """Wraps an opened Remote; every call's error is retold by `named_error`."""

    def __init__(self, remote: Remote, name: str) -> None:
        self._remote = remote
        self.name = name
        self.kind = remote.kind  # type: ignore[misc]
        self.capabilities = remote.capabilities  # type: ignore[misc]
        # the stream's reads pass through _WatchedStream as they are
        self.reads_borrowed = remote.reads_borrowed  # type: ignore[misc]

    @contextmanager
    def _retold(self, path: str) -> Iterator[None]:
        try:
            yield
        except Exception as exc:
            raise named_error(exc, self.name, path) from None

    def describe(self) -> str:
        return f"remote {self.name!r}"

    def stat(self, path: str) -> Entry | None:
        with self._retold(path):
            return self._remote.stat(path)

    def _iter_files(self, prefix: str) -> Iterator[Entry]:
        with self._retold(prefix):
            yield from self._remote.iter_entries(prefix, include_temp=True)

    def open_read(self, path: str) -> BinaryIO:
        with self._retold(path):
            return self._remote.open_read(path)

    def write(
        self,
        path: str,
        stream: BinaryIO,
        *,
        size: int | None = None,
        md5: str | None = None,
        modified: datetime | None = None,
        compute_md5: bool = True,
    ) -> Entry:
        watched = _WatchedStream(stream)
        try:
            return self._remote.write(
                path,
                watched,  # type: ignore[arg-type]
                size=size,
                md5=md5,
                modified=modified,
                compute_md5=compute_md5,
            )
        except Exception as exc:
            if watched.error is not None:
                raise watched.error from None
            raise named_error(exc, self.name, path) from None

    def batch_durability(self) -> None:
        self._remote.batch_durability()

    def make_durable(self) -> None:
        with self._retold(""):
            self._remote.make_durable()

    def delete(self, path: str) -> None:
        with self._retold(path):
            self._remote.delete(path)

    def move(self, src: str, dst: str) -> Entry:
        with self._retold(src):
            return self._remote.move(src, dst)

    def checksum(self, path: str) -> str | None:
        with self._retold(path):
            return self._remote.checksum(path)

    def sweep_partial(self, prefix: str = "", *, older_than: datetime) -> list[str]:
        with self._retold(prefix):
            return self._remote.sweep_partial(prefix, older_than=older_than)

    def close(self) -> None:
        with self._retold(""):
            self._remote.close()
