"""The smb backend's Remote: paths, the shared connection and its failures, reads and writes.

One authenticated connection per Remote, opened on first use and shared by every thread under a
lock (an SMB connection is one conversation). A connection that broke since its last use (server
restarted, idle session dropped) is replaced once, transparently. SMB1-only servers are refused
with a clear message. The requests themselves are `wire.py`'s.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, BinaryIO, TypeVar

from nmb.nmb_structs import NMBError
from smb.base import NotConnectedError, NotReadyError, SMBTimeout
from smb.smb_constants import FILE_READ_ATTRIBUTES, FILE_READ_DATA, FILE_SEQUENTIAL_ONLY
from smb.smb_structs import OperationFailure, ProtocolError, UnsupportedFeature

from .. import coerce
from ..base import (
    CHUNK_SIZE,
    Capabilities,
    ChunkReader,
    Entry,
    HashingReader,
    Remote,
    RemoteConfigError,
    RemoteError,
    RemoteNotFound,
    RemoteUnavailable,
    check_range,
    clean_path,
    temp_name,
    verify_md5,
)
from .wire import (
    BUSY,
    NOT_FOUND,
    PERMANENT,
    SESSION_GONE,
    STATUS_BAD_NETWORK_NAME,
    STATUS_OBJECT_NAME_COLLISION,
    STATUS_SHARING_VIOLATION,
    Connection,
    NetbiosRefused,
    StatusError,
    status_of,
)

T = TypeVar("T")

#: Bytes of the caller's stream read (outside the lock) per round of pipelined writes.
UPLOAD_CHUNK = 4 * CHUNK_SIZE
# Characters Windows and SMB refuse in names; ":" would address an alternate data stream, and
# "*" / "?" are wildcards.
FORBIDDEN_CHARACTERS = frozenset('<>:"|?*')


@dataclass
class _Handle:
    """An open file on one particular connection; useless once that connection is replaced."""

    conn: Connection
    tid: int
    fid: bytes
    size: int
    released: bool = field(default=False)


class _Source:
    """The caller's stream, hashed on the way, read in full chunks, held to its promised size."""

    def __init__(self, stream: BinaryIO, size: int | None, md5: str | None, path: str) -> None:
        self.reader = HashingReader(stream)
        self._size = size
        self._md5 = md5
        self._path = path

    def read(self, size: int) -> bytes:
        """`size` bytes unless the stream ends first (streams may return less per read)."""
        parts = []
        got = 0
        while got < size and (data := self.reader.read(size - got)):
            parts.append(data)
            got += len(data)
        if self._size is not None and self.reader.bytes_read > self._size:
            raise RemoteError(f"{self._path}: the stream is longer than {self._size} bytes")
        return b"".join(parts)

    def check(self) -> None:
        sent = self.reader.bytes_read
        if self._size is not None and sent != self._size:
            raise RemoteError(f"{self._path}: expected {self._size} bytes, received {sent}")
        verify_md5(self._path, self._md5, self.reader.md5)


class SmbRemote(Remote):
    kind = "smb"
    secret_settings = frozenset({"password"})
    capabilities = Capabilities(move=True)  # SMB2 SET_INFO FileRenameInformation

    def __init__(
        self,
        *,
        server: str,
        share_name: str,
        username: str,
        password: str,
        domain: str = "",
        remote_path: str = "",
        port: int = 445,
        is_direct_tcp: bool = True,
        client_name: str = "syncapp",
        server_name: str = "",
        timeout: float = 30,
    ) -> None:
        self.server = server.strip()
        self.share_name = share_name.strip().strip("/\\")
        self.username = username
        self._password = password
        self.domain = domain
        self.is_direct_tcp = coerce.flag("is_direct_tcp", is_direct_tcp)
        self.client_name = client_name or "syncapp"
        self.server_name = server_name or self.server
        self.port = coerce.port("port", port)
        self.timeout = coerce.positive("timeout", timeout)
        if not self.share_name or any(c in self.share_name for c in "/\\"):
            raise RemoteConfigError(f"share_name must be one share's name, not {share_name!r}")
        try:
            self.root = clean_path(remote_path or "")
        except RemoteError as exc:
            raise RemoteConfigError(f"remote_path: {exc}") from None
        self._lock = threading.Lock()
        self._conn: Connection | None = None
        self._owner: int | None = None  # the thread holding the lock
        self._orphans: list[_Handle] = []  # read handles closed from inside a call

    def describe(self) -> str:
        user = f"{self.domain}\\{self.username}" if self.domain else self.username
        folder = f"/{self.root}" if self.root else ""
        return f"SMB share //{self.server}:{self.port}/{self.share_name}{folder} as {user}"

    # -- paths ----------------------------------------------------------------------------------

    def _rel(self, path: str) -> str:
        rel = clean_path(path)
        bad = sorted({c for c in rel if c in FORBIDDEN_CHARACTERS or ord(c) < 32})
        if bad:
            raise RemoteError(f"{rel!r}: SMB does not allow the characters {''.join(bad)!r}")
        return rel

    def _file_rel(self, path: str) -> str:
        rel = self._rel(path)
        if not rel:
            raise RemoteError("a file path is required, not the remote's root folder")
        return rel

    def _smb(self, rel: str) -> str:
        """The path inside the share, in SMB's spelling."""
        return "\\".join(part for part in (self.root, rel) if part).replace("/", "\\")

    # -- the connection -------------------------------------------------------------------------

    def _connection(self) -> Connection:
        if self._conn is None:
            conn = Connection(
                self.username,
                self._password,
                self.client_name,
                self.server_name,
                domain=self.domain,
                use_ntlm_v2=True,
                is_direct_tcp=self.is_direct_tcp,
            )
            try:
                self._handshake(conn)
            except BaseException:
                conn.close()
                raise
            self._conn = conn
        return self._conn

    def _handshake(self, conn: Connection) -> None:
        where = f"{self.server}:{self.port}"
        try:
            authenticated = conn.connect(self.server, self.port, timeout=self.timeout)
            conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except socket.gaierror as exc:
            raise RemoteUnavailable(f"cannot resolve the server name {self.server!r}") from exc
        except ConnectionRefusedError as exc:
            raise RemoteUnavailable(f"{where} refused the connection: no SMB server there") from exc
        except (SMBTimeout, TimeoutError) as exc:
            raise RemoteUnavailable(f"{where} did not answer within {self.timeout:g}s") from exc
        except NetbiosRefused as exc:
            raise RemoteError(
                f"{where} refused the NetBIOS session: set server_name to its NetBIOS name"
            ) from exc
        except (NotConnectedError, OSError) as exc:
            detail = str(exc) or type(exc).__name__
            raise RemoteUnavailable(f"cannot connect to {where}: {detail}") from exc
        except Exception as exc:  # ProtocolError, NMBError...: not an SMB server we can speak to
            raise RemoteError(f"{where} does not speak SMB as expected: {exc}") from exc
        if not authenticated:
            raise RemoteError(
                f"authentication failed on {where} for user {self.username!r}: "
                "check the credentials (username, password and domain)"
            )
        if not conn.isUsingSMB2:
            raise RemoteError(f"{where} only offers SMB1; enable SMB2 or later on the server")

    def _drop(self) -> None:
        """Forget the connection: its conversation is broken or in an unknown state."""
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with self._lock:
            self._owner = threading.get_ident()
            try:
                yield
            finally:
                self._owner = None

    def _call(self, what: str, op: Callable[[Connection], T], **options: Any) -> T:
        with self._locked():
            return self._call_locked(what, op, **options)

    def _call_locked(
        self,
        what: str,
        op: Callable[[Connection], T],
        *,
        retry: Callable[[], bool] = lambda: True,
        handle: _Handle | None = None,
    ) -> T:
        """Run `op` on the connection and translate pysmb's failures into RemoteErrors.

        A connection that was already open and turns out broken is replaced and `op` retried
        once, if `retry()` says it is safe (an upload that has consumed part of its stream
        cannot start over). `handle` pins the call to the connection that opened it.
        """
        for attempt in (1, 2):
            if handle is not None and handle.conn is not self._conn:
                raise RemoteUnavailable(f"{what}: the connection was lost while the file was open")
            reused = self._conn is not None
            conn = self._connection()
            try:
                self._close_orphans(conn)
                return op(conn)
            except RemoteError:
                raise
            except (OperationFailure, StatusError) as exc:
                status = status_of(exc)
                if status not in SESSION_GONE:
                    raise self._status_error(what, status, exc) from exc
                self._drop()
                if attempt == 2 or handle is not None or not retry():
                    raise RemoteUnavailable(f"{what}: the server ended the session") from exc
            except (SMBTimeout, TimeoutError) as exc:
                self._drop()
                raise RemoteUnavailable(
                    f"{what}: no answer from {self.server}:{self.port} within {self.timeout:g}s"
                ) from exc
            except (NotConnectedError, NotReadyError, OSError) as exc:
                self._drop()
                if attempt == 2 or not reused or handle is not None or not retry():
                    detail = str(exc) or type(exc).__name__
                    raise RemoteUnavailable(
                        f"{what}: connection to {self.server}:{self.port} lost ({detail})"
                    ) from exc
            except (ProtocolError, NMBError, UnsupportedFeature) as exc:
                self._drop()
                raise RemoteError(f"{what}: SMB protocol error: {exc}") from exc
            except BaseException:
                self._drop()  # interrupted mid-conversation: the next reply would be misread
                raise
        raise AssertionError("unreachable")

    def _status_error(self, what: str, status: int | None, exc: Exception) -> RemoteError:
        if status in NOT_FOUND:
            return RemoteNotFound(f"{what}: no such file")
        if status in BUSY:
            return RemoteUnavailable(f"{what}: the file is in use by another client")
        if status == STATUS_BAD_NETWORK_NAME:
            return RemoteError(f"share {self.share_name!r} not found on {self.server}")
        if status in PERMANENT:
            return RemoteError(f"{what}: {PERMANENT[status]}")
        code = f" (NT status 0x{status:08X})" if status is not None else ""
        message = getattr(exc, "message", None) or str(exc).splitlines()[0]
        return RemoteError(f"{what}: {message}{code}")

    def close(self) -> None:
        with self._locked():
            self._orphans.clear()
            self._drop()

    # -- reading --------------------------------------------------------------------------------

    def _entry(self, rel: str, info: Any) -> Entry:
        modified = datetime.fromtimestamp(info.last_write_time, UTC)
        return Entry(path=rel, size=info.file_size, modified=modified)

    def stat(self, path: str) -> Entry | None:
        rel = self._rel(path)
        smb_path = self._smb(rel)
        try:
            info = self._call(
                f"stat {rel}",
                lambda c: c.getAttributes(self.share_name, smb_path, timeout=self.timeout),
            )
        except RemoteNotFound:
            return None
        return None if info.isDirectory else self._entry(rel, info)

    def _iter_files(self, prefix: str = "") -> Iterator[Entry]:
        folders = [self._rel(prefix)]
        while folders:
            folder = folders.pop()
            smb_path = self._smb(folder)
            try:
                items = self._call(
                    f"list {folder}",
                    lambda c, p=smb_path: c.listPath(self.share_name, p, timeout=self.timeout),
                )
            except RemoteNotFound:
                continue  # a missing prefix lists nothing, like a folder removed meanwhile
            for item in items:
                name = item.filename
                if name in (".", ".."):
                    continue
                child = f"{folder}/{name}" if folder else name
                if item.isDirectory:
                    folders.append(child)
                else:
                    yield self._entry(child, item)

    def _open_handle(self, rel: str) -> _Handle:
        smb_path = self._smb(rel)

        def open_file(conn: Connection) -> _Handle:
            tid = conn.tree(self.share_name, self.timeout)
            access = FILE_READ_DATA | FILE_READ_ATTRIBUTES
            opened = conn.open(tid, smb_path, access, self.timeout, options=FILE_SEQUENTIAL_ONLY)
            return _Handle(conn, tid, opened.fid, opened.file_size)

        return self._call(f"read {rel}", open_file)

    def open_read(self, path: str) -> BinaryIO:
        rel = self._file_rel(path)
        handle = self._open_handle(rel)
        return ChunkReader(self._chunks(rel, handle), on_close=lambda: self._release(handle))

    def read_range(self, path: str, offset: int, length: int | None = None) -> BinaryIO:
        """SMB2 READs start at any offset: only the range crosses the network."""
        check_range(offset, length)
        rel = self._file_rel(path)
        handle = self._open_handle(rel)
        end = handle.size if length is None else min(handle.size, offset + length)
        chunks = self._chunks(rel, handle, offset, end)
        return ChunkReader(chunks, on_close=lambda: self._release(handle))

    def _chunks(
        self, rel: str, handle: _Handle, start: int = 0, end: int | None = None
    ) -> Iterator[bytes]:
        """The content (from `start` to `end`, default all) in CHUNK_SIZE pieces, all read
        through the one handle opened for it."""
        offset = start
        stop = handle.size if end is None else end
        while offset < stop:
            length = min(CHUNK_SIZE, stop - offset)
            data = self._call(
                f"read {rel}",
                lambda c, o=offset, n=length: c.read_range(
                    handle.tid, handle.fid, o, n, self.timeout
                ),
                handle=handle,
            )
            if not data:
                break  # it shrank since it was opened
            offset += len(data)
            yield data
        self._release(handle)  # done: no need to wait for the caller's close()

    def _release(self, handle: _Handle) -> None:
        """Close a read handle. A reader the garbage collector finalizes may land here in the
        middle of one of this thread's own calls: then the close waits for the next call."""
        if handle.released:
            return
        handle.released = True
        if self._owner == threading.get_ident():
            self._orphans.append(handle)
            return
        with self._locked(), contextlib.suppress(RemoteError):
            if handle.conn is self._conn:  # else the server forgot it with the connection
                self._call_locked(
                    "close",
                    lambda c: c.close_file(handle.tid, handle.fid, self.timeout),
                    handle=handle,
                )

    def _close_orphans(self, conn: Connection) -> None:
        while self._orphans:
            handle = self._orphans.pop()
            if handle.conn is conn:
                with contextlib.suppress(StatusError):
                    conn.close_file(handle.tid, handle.fid, self.timeout)

    # -- writing --------------------------------------------------------------------------------

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
        rel = self._file_rel(path)
        what = f"write {rel}"
        source = _Source(stream, size, md5, rel)
        final = self._smb(rel)
        handle = self._create_temp(what, self._smb(temp_name(rel)))
        # The stream is read outside the lock, a chunk at a time: a slow sender (a browser
        # uploading) must not hold up every other thread using this Remote.
        try:
            offset = 0
            while chunk := source.read(UPLOAD_CHUNK):
                acknowledged = self._call(
                    what,
                    lambda c, o=offset, d=chunk: c.write_at(
                        handle.tid, handle.fid, o, d, self.timeout
                    ),
                    handle=handle,
                )
                if acknowledged != len(chunk):
                    raise RemoteError(
                        f"{what}: the server took {acknowledged} of {len(chunk)} bytes"
                    )
                offset += len(chunk)
            source.check()
            stored, stamp = self._call(
                what,
                lambda c: c.finish_upload(handle.tid, handle.fid, final, modified, self.timeout),
                handle=handle,
            )
        except BaseException:
            self._abandon(what, handle)
            raise
        if stored != offset:
            raise RemoteError(f"{what}: the server holds {stored} bytes, {offset} were sent")
        return Entry(path=rel, size=stored, modified=modified or stamp, md5=source.reader.md5)

    def _create_temp(self, what: str, temp: str) -> _Handle:
        def create(conn: Connection) -> _Handle:
            tid, fid = conn.create_temp(self.share_name, temp, self.timeout)
            return _Handle(conn, tid, fid, 0)

        try:
            return self._call(what, create)
        except RemoteNotFound:
            self._make_folders(temp)  # created only when an upload needs them
            return self._call(what, create)

    def _abandon(self, what: str, handle: _Handle) -> None:
        """Drop a failed upload's temp file. On a lost connection there is nothing to do: the
        server deleted the file (delete-on-close) when the connection died."""
        with contextlib.suppress(RemoteError):
            self._call(
                what, lambda c: c.abandon(handle.tid, handle.fid, self.timeout), handle=handle
            )

    def _make_folders(self, smb_path: str) -> None:
        parts = smb_path.split("\\")[:-1]
        for depth in range(1, len(parts) + 1):
            folder = "\\".join(parts[:depth])

            def make(conn: Connection, folder: str = folder) -> None:
                try:
                    conn.createDirectory(self.share_name, folder, timeout=self.timeout)
                except OperationFailure as exc:
                    if status_of(exc) == STATUS_SHARING_VIOLATION:
                        return  # another connection is creating this very folder right now
                    if status_of(exc) != STATUS_OBJECT_NAME_COLLISION:
                        raise
                    info = conn.getAttributes(self.share_name, folder, timeout=self.timeout)
                    if not info.isDirectory:
                        raise RemoteError(f"{folder} exists and is a file, not a folder") from None

            self._call(f"create folder {folder}", make)

    def delete(self, path: str) -> None:
        rel = self._file_rel(path)
        self._call(
            f"delete {rel}", lambda c: c.delete_file(self.share_name, self._smb(rel), self.timeout)
        )

    def move(self, src: str, dst: str) -> Entry:
        """A rename on the server, replacing the destination (`Connection._replace`)."""
        rel_src, rel_dst = self._file_rel(src), self._file_rel(dst)
        if rel_src == rel_dst:
            entry = self.stat(rel_src)
            if entry is None:
                raise RemoteNotFound(rel_src)
            return entry
        source, final = self._smb(rel_src), self._smb(rel_dst)

        def rename(conn: Connection) -> tuple[int, datetime]:
            return conn.move_file(self.share_name, source, final, self.timeout)

        what = f"move {rel_src}"
        try:
            size, stamp = self._call(what, rename)
        except RemoteNotFound:
            if self.stat(rel_src) is None:
                raise
            self._make_folders(final)  # the destination's folder was missing
            size, stamp = self._call(what, rename)
        return Entry(path=rel_dst, size=size, modified=stamp)

    def checksum(self, path: str) -> str | None:
        if self.stat(path) is None:
            raise RemoteNotFound(self._rel(path))
        return None  # SMB keeps no checksum; verification uses the hash computed by write()
