"""The storage contract that every backend implements.

Paths given to a Remote are always relative to its configured root, use "/" as the separator and
never contain "..": `clean_path` enforces that, so no backend can be steered outside its root.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import logging
import os
import posixpath
import queue
import socket
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import BinaryIO, ClassVar

CHUNK_SIZE = 1024 * 1024
PROBE_NAME = ".syncapp-probe"
log = logging.getLogger(__name__)
#: Uploads in progress carry this prefix; listings skip them and clean-ups may remove them.
TEMP_PREFIX = ".syncapp-tmp-"
#: the longest file name (in bytes) the file systems and servers we write to accept
NAME_MAX = 255
# Host names may contain dots and dashes; temp names use both as separators.
_HOST = socket.gethostname().replace(".", "_").replace("-", "_")[:40] or "host"


class RemoteError(Exception):
    """A permanent failure: retrying the same call will not help."""


class RemoteUnavailable(RemoteError):
    """The service could not be reached or failed transiently (network, timeout, 5xx)."""


class RemoteNotFound(RemoteError):
    """The path does not exist on the remote."""


class RemoteConfigError(RemoteError):
    """The remote's settings are wrong: unknown setting, missing package, bad value."""


class RemoteFull(RemoteError):
    """The destination has no space left (disk full, quota reached)."""


class ChecksumMismatch(RemoteError):
    """The bytes that arrived are not the bytes that were meant to arrive."""


@dataclass(frozen=True)
class Entry:
    path: str
    size: int
    modified: datetime | None = None
    md5: str | None = None  # only when the service reports it without reading the content
    etag: str | None = None
    #: the MD5 the service itself reported, in a write's own response, for the bytes it stored;
    #: when set, the copy is proven without asking the service again
    server_md5: str | None = None


@dataclass(frozen=True)
class Capabilities:
    """What a backend's service does natively, as rclone's optional `Features` say: callers
    read them to know what an operation costs, and backends to choose how to do it.

    `move`: `Remote.move` renames in place (atomic; no byte crosses the network).
    `copy`: the service copies a file within itself; without a native rename, `Remote.move` is
    such a copy and a delete (no byte goes through syncapp, but the service copies them).
    `hashes`: the checksums `stat`/`checksum` may report without reading the content ("md5").
    `write_stat`: the Entry a `write` returns is the stored file's own (a local `fstat` of the
    file renamed into place), so its size proves the copy without asking the service again.
    """

    move: bool = False
    copy: bool = False
    hashes: frozenset[str] = frozenset()
    write_stat: bool = False


@dataclass(frozen=True)
class ProbeResult:
    success: bool
    message: str


def clean_path(path: str) -> str:
    """Normalise a relative path; refuse anything that could leave the remote's root."""
    if not isinstance(path, str) or "\x00" in path:
        raise RemoteError(f"invalid path: {path!r}")
    if path and "\\" not in path and "//" not in path and path[0] != "/" and path[-1] != "/":
        wrapped = f"/{path}/"
        if "/./" not in wrapped and "/../" not in wrapped:
            return path  # already clean: the common case, on every call of every copy
    parts = [p for p in path.replace("\\", "/").split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts):
        raise RemoteError(f"path may not contain '..': {path!r}")
    return "/".join(parts)


class _TempIds:
    """Distinct ids for temp names without a system call each (uuid4 read os.urandom per file):
    a random token drawn once per process (again in a forked child), then a counter. With the
    owner tag's host and pid before it, no two writers of this host ever draw the same name."""

    def __init__(self) -> None:
        self.reset()
        os.register_at_fork(after_in_child=self.reset)

    def reset(self) -> None:
        self.token = os.urandom(3).hex()
        self.count = itertools.count()

    def next(self) -> str:
        return f"{self.token}{next(self.count):06x}"  # next() on a count is atomic


_temp_ids = _TempIds()


def temp_name(path: str) -> str:
    """A sibling name for an upload in progress; random so that concurrent writers never meet.

    It names this host and process, so that after a crash the debris of dead writers can be
    told apart from uploads still in progress (`is_dead_temp`).
    """
    folder, name = posixpath.split(path)
    head = f"{TEMP_PREFIX}{owner_tag()}.{_temp_ids.next()}-"
    # The file's name is kept for whoever looks at a folder mid-copy, cut so that the whole stays
    # within the 255 bytes a name may have (a long name could otherwise never be written).
    room = max(0, NAME_MAX - len(head.encode()))
    tail = name.encode()[:room].decode(errors="ignore")
    return posixpath.join(folder, head + tail)


def is_temp(path: str) -> bool:
    return posixpath.basename(path).startswith(TEMP_PREFIX)


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a killed process can linger as a zombie until it is reaped: that is not alive
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):
        return True


def owner_tag() -> str:
    """`<host>.<pid>`: put at the start of a name, it tells which process made the file."""
    return f"{_HOST}.{os.getpid()}"


def owner_is_dead(name: str) -> bool:
    """True when `name` starts with the owner tag of a process on this host that has ended."""
    host, _, rest = name.partition(".")
    pid = rest.partition(".")[0]
    if host != _HOST or not pid.isdigit():
        return False
    return int(pid) != os.getpid() and not process_alive(int(pid))


def is_dead_temp(path: str) -> bool:
    """A temp file whose writer on this host is gone: safe to delete."""
    return is_temp(path) and owner_is_dead(posixpath.basename(path)[len(TEMP_PREFIX) :])


def of_this_host(name: str) -> bool:
    """True when `name` starts with the owner tag of a process of this host (alive or not)."""
    host, _, rest = name.partition(".")
    return host == _HOST and rest.partition(".")[0].isdigit()


def is_stale_temp(entry: Entry, older_than: datetime) -> bool:
    """A temp file a killed write left: its writer on this host is gone, or, written by another
    host (whose processes cannot be asked), it was last modified before `older_than`. A temp of
    a live process of this host is never stale: that process is writing it, or will remove it."""
    if not is_temp(entry.path):
        return False
    tag = posixpath.basename(entry.path)[len(TEMP_PREFIX) :]
    if of_this_host(tag):
        return owner_is_dead(tag)
    return entry.modified is not None and entry.modified < older_than


def sweep(
    remote: Remote, is_debris: Callable[[Entry], bool], *, prefix: str = "", what: str = "debris"
) -> list[str]:
    """Remove the entries below `prefix`, temp files included, that `is_debris` picks; returns
    their paths. Each removal is best effort: a file gone meanwhile, or a store that refuses, is
    logged as `what` and left for the next sweep."""
    removed = []
    for entry in remote.iter_entries(prefix, include_temp=True):
        if not is_debris(entry):
            continue
        try:
            remote.delete(entry.path)
        except RemoteError as exc:
            log.warning("could not remove %s %s: %s", what, entry.path, exc)
            continue
        removed.append(entry.path)
    return removed


def sweep_temps(remote: Remote, prefix: str, older_than: datetime) -> list[str]:
    """Remove the stale temp files below `prefix` (`is_stale_temp`); returns their paths."""
    return sweep(
        remote, lambda entry: is_stale_temp(entry, older_than), prefix=prefix, what="temp file"
    )


def _hash_worker(chunks: queue.Queue, digest) -> None:
    while (chunk := chunks.get()) is not None:
        digest.update(chunk)


class HashingReader(io.RawIOBase):
    """Wraps a stream, counting and MD5-hashing every byte that is read through it.

    From the second chunk on, the MD5 is computed by a helper thread while the caller writes or
    sends the bytes (hashlib, file writes and socket sends all release the GIL), so hashing and
    I/O overlap instead of adding up. A one-chunk file is hashed inline and starts no thread.
    With `md5=False` it only counts, and hands on what it reads as it is (no copy, no thread):
    `md5` is then None.
    """

    QUEUE_DEPTH = 2  # chunks waiting for the hash: enough overlap, little memory

    def __init__(self, stream: BinaryIO, *, md5: bool = True) -> None:
        self._stream = stream
        self._hashes = md5
        self._md5 = hashlib.md5()
        self._chunks: queue.Queue | None = None
        self._worker: threading.Thread | None = None
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(size)
        if data and not self._hashes:
            self.bytes_read += len(data)
        elif data:
            if not isinstance(data, bytes):  # the worker hashes later: it must own the bytes
                data = bytes(data)
            self._hash(data)
        return data

    def _hash(self, data: bytes) -> None:
        first = self.bytes_read == 0
        self.bytes_read += len(data)
        if self._worker is None and first:
            self._md5.update(data)
            return
        if self._worker is None:
            self._chunks = queue.Queue(maxsize=self.QUEUE_DEPTH)
            # The worker holds the queue and the digest, not the reader, so an abandoned reader
            # is still collected and its close() ends the worker.
            self._worker = threading.Thread(
                target=_hash_worker, args=(self._chunks, self._md5), name="md5", daemon=True
            )
            self._worker.start()
        assert self._chunks is not None
        self._chunks.put(data)

    def _drain(self) -> None:
        if self._worker is not None and self._chunks is not None:
            self._chunks.put(None)
            self._worker.join()
            self._worker, self._chunks = None, None

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def chunks(self, size: int = CHUNK_SIZE) -> Iterator[bytes]:
        while chunk := self.read(size):
            yield chunk

    def close(self) -> None:
        self._drain()
        super().close()

    @property
    def md5(self) -> str:
        """The MD5 of what was read ("" when it was not asked for: see `digest`)."""
        self._drain()
        return self._md5.hexdigest() if self._hashes else ""

    @property
    def digest(self) -> str | None:
        """`md5`, or None when it was not computed: what a write's Entry reports."""
        return self.md5 or None


class ChunkReader(io.RawIOBase):
    """A read-only file object over an iterator of byte chunks (for SDKs that hand out chunks).

    Reads return exactly `size` bytes until the end; an offset into the current buffer avoids
    copying the rest of a multi-MiB chunk on every read.
    """

    def __init__(self, chunks: Iterable[bytes], on_close=None) -> None:
        self._chunks = iter(chunks)
        self._buffer = b""
        self._offset = 0
        self._on_close = on_close

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            rest = self._buffer[self._offset :] + b"".join(self._chunks)
            self._buffer, self._offset = b"", 0
            return rest
        while len(self._buffer) - self._offset < size:
            try:
                chunk = next(self._chunks)
            except StopIteration:
                break
            if not isinstance(chunk, bytes):  # memoryview/bytearray from an SDK: own a copy
                chunk = bytes(chunk)
            self._buffer = (
                self._buffer[self._offset :] + chunk if self._offset < len(self._buffer) else chunk
            )
            self._offset = 0
        data = self._buffer[self._offset : self._offset + size]
        self._offset += len(data)
        return data

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed and self._on_close is not None:
            self._on_close()
        super().close()


class RangeReader(io.RawIOBase):
    """At most `length` bytes of `reader` (to its end when None); closing it closes `reader`.
    What `Remote.read_range` hands out over a reader that starts at the range's first byte."""

    def __init__(self, reader: BinaryIO, length: int | None) -> None:
        self._reader = reader
        self._left = length

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if self._left is None:
            return self._reader.read(size)
        want = self._left if size is None or size < 0 else min(size, self._left)
        if want <= 0:
            return b""
        data = self._reader.read(want)
        self._left -= len(data)
        return data

    def readall(self) -> bytes:
        return b"".join(iter(lambda: self.read(CHUNK_SIZE), b""))

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._reader.close()
        super().close()


def check_range(offset: int, length: int | None) -> None:
    if offset < 0 or (length is not None and length < 0):
        raise ValueError(f"not a byte range: offset {offset}, length {length}")


def skip(reader: BinaryIO, count: int) -> None:
    """Read and drop `count` bytes (fewer if the stream ends first)."""
    while count > 0:
        data = reader.read(min(CHUNK_SIZE, count))
        if not data:
            return
        count -= len(data)


def verify_md5(path: str, expected: str | None, actual: str) -> None:
    if expected is not None and expected.lower() != actual:
        raise ChecksumMismatch(f"{path}: expected MD5 {expected.lower()}, received {actual}")


class Remote(ABC):
    """One storage location: a folder, a share, a bucket prefix, a Drive folder."""

    kind: ClassVar[str]
    #: Names of settings that hold secrets: encrypted at rest and never shown by the API.
    secret_settings: ClassVar[frozenset[str]] = frozenset()
    #: What the service does natively; the defaults promise nothing.
    capabilities: ClassVar[Capabilities] = Capabilities()
    #: `write` is done with what each read of its stream returned before it reads again (it
    #: keeps none of it, on no other thread, when `compute_md5` is False): the stream may then
    #: hand out views of buffers it reuses (uploads.receive_into). Others get bytes of their own.
    reads_borrowed: ClassVar[bool] = False

    @abstractmethod
    def stat(self, path: str) -> Entry | None:
        """The entry at `path`, or None when there is no file there."""

    def iter_entries(self, prefix: str = "", *, include_temp: bool = False) -> Iterator[Entry]:
        """Every file below `prefix`, recursively; paths are relative to the root. Writes in
        progress (temp names) are left out unless `include_temp`, for clean-ups."""
        for entry in self._iter_files(prefix):
            if include_temp or not is_temp(entry.path):
                yield entry

    @abstractmethod
    def _iter_files(self, prefix: str) -> Iterator[Entry]:
        """Every file below `prefix`, temp names included."""

    @abstractmethod
    def open_read(self, path: str) -> BinaryIO:
        """A streaming reader; raises RemoteNotFound when the file does not exist."""

    def read_range(self, path: str, offset: int, length: int | None = None) -> BinaryIO:
        """A streaming reader of the `length` bytes of `path` from byte `offset` (to its end
        when None): fewer when the file ends first, none when `offset` is at or past its end.
        RemoteNotFound as `open_read`. Backends whose service serves byte ranges override it
        (S3 and WebDAV: a Range header; Azure: offset and length; SMB: reads at the offset;
        local: a seek); this default reads the bytes before `offset` and drops them."""
        check_range(offset, length)
        reader = self.open_read(path)
        try:
            skip(reader, offset)
        except BaseException:
            reader.close()
            raise
        return RangeReader(reader, length)  # type: ignore[return-value]

    @abstractmethod
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
        """Store `stream` at `path` atomically; verify `md5` when given (ChecksumMismatch, nothing
        stored). `modified` is kept where the backend can keep it. The returned Entry's md5 is the
        hash of the bytes written.

        `compute_md5=False`: the caller needs no MD5 (it verifies a digest of its own, as restic's
        SHA-256 names, or hashes the bytes itself): a backend that hashes only to report it may
        skip it and return `md5=None` (a local folder does: 15 % of a restic backup's server
        CPU went to that MD5). One
        that proves the transfer to its service with the MD5 (S3's and Azure's Content-MD5,
        Drive's md5Checksum) or is given `md5` to verify still computes it."""

    def batch_durability(self) -> None:
        """From now on `write` may return before the rename that gave its file its name is on
        the disk; `make_durable()` puts every such rename there. The file's bytes are always on
        the disk before its rename, so a crash in between loses a name, never a byte, and never
        leaves a half-written file under the name. For callers that record writes in batches
        (the sync engine: one folder fsync per folder per batch instead of one per file).
        Backends whose writes are durable when they return ignore both."""
        return None

    def make_durable(self) -> None:
        """Make durable what writes since `batch_durability()` left pending (see there)."""
        return None

    @abstractmethod
    def delete(self, path: str) -> None:
        """Remove a file; raises RemoteNotFound when it does not exist."""

    def move(self, src: str, dst: str) -> Entry:
        """Give a file a new name, replacing what is there. Backends that rename natively
        (`capabilities.move`) override this; one that copies on the server (`capabilities.copy`)
        implements `_server_copy`; else the bytes are copied through `write` (atomic)."""
        entry = self.stat(src)
        if entry is None:
            raise RemoteNotFound(src)
        if clean_path(src) == clean_path(dst):
            return entry  # deleting the "source" would delete the file
        if self.capabilities.copy:
            moved = self._server_copy(src, dst)
        else:
            with self.open_read(src) as reader:
                moved = self.write(dst, reader, size=entry.size, modified=entry.modified)
        self.delete(src)
        return moved

    def _server_copy(self, src: str, dst: str) -> Entry:
        """Copy `src` (which exists) over `dst` within the service; for `capabilities.copy`."""
        raise NotImplementedError(f"{self.kind} declares no server-side copy")

    def checksum(self, path: str) -> str | None:
        """The service's own MD5 of `path`, or None when the service keeps none."""
        entry = self.stat(path)
        if entry is None:
            raise RemoteNotFound(path)
        return entry.md5

    def download_url(self, path: str, expires: int) -> str | None:
        """A URL that lets anyone holding it GET the file for `expires` seconds, signed by the
        service itself; None when the backend cannot make one (then callers stream the file)."""
        return None

    def sweep_partial(self, prefix: str = "", *, older_than: datetime) -> list[str]:
        """Abort what killed writes left below `prefix` that is no file, so no listing shows it,
        yet holds storage: S3's unfinished multipart uploads begun before `older_than`. Returns
        the paths whose leftovers were removed. Nothing by default: every other backend's
        unfinished write is a temp file, which `iter_entries(include_temp=True)` lists and
        `is_stale_temp` judges (`sweep_temps`); Azure discards uncommitted blocks itself."""
        return []

    def probe(self) -> ProbeResult:
        """Write, read back and delete a small file: proves the settings and the permissions."""
        payload = b"syncapp probe\n"
        try:
            self.write(PROBE_NAME, io.BytesIO(payload), size=len(payload))
            with self.open_read(PROBE_NAME) as reader:
                echoed = reader.read()
            self.delete(PROBE_NAME)
        except RemoteError as exc:
            return ProbeResult(False, f"{self.describe()}: {exc}")
        if echoed != payload:
            return ProbeResult(False, f"{self.describe()}: the probe file came back altered")
        return ProbeResult(True, f"{self.describe()}: read, write and delete work")

    def describe(self) -> str:
        """A short, secret-free description for messages and logs."""
        return self.kind

    def close(self) -> None:
        """Release connections; the Remote may not be used afterwards."""
        return None

    def __enter__(self) -> Remote:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
