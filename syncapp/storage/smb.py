"""A folder in an SMB share (Windows, Samba, most NAS devices), spoken to with pysmb.

One authenticated connection per Remote, opened on first use and shared by every thread under a
lock (an SMB connection is one conversation). A connection that broke since its last use (server
restarted, idle session dropped) is replaced once, transparently.

pysmb (pinned, 1.2.15) authenticates, frames and signs the conversation, and its public API lists
folders, reads attributes and creates folders. File content moves through `_Connection`'s own
SMB2 requests, built from pysmb's message classes, because the public API cannot:
- keep several reads or writes in flight (pysmb waits for each 64 KiB reply before sending the
  next request; SMB 2.0.2, all pysmb speaks, caps a request at 64 KiB);
- rename over an existing file (pysmb's `rename` sends ReplaceIfExists=0): an atomic overwrite;
- keep one read handle for a whole file, so a long read never mixes two versions of it;
- mark an upload's temp file delete-on-close, so the server removes it when an upload dies with
  its connection.
SMB1-only servers are refused with a clear message.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, BinaryIO, NamedTuple, TypeVar

from nmb.nmb_structs import NMBError
from smb.base import NotConnectedError, NotReadyError, SMBTimeout, _PendingRequest
from smb.smb2_constants import SMB2_INFO_FILE, SMB2_OPLOCK_LEVEL_NONE
from smb.smb2_structs import (
    SMB2CloseRequest,
    SMB2CreateRequest,
    SMB2Message,
    SMB2ReadRequest,
    SMB2SetInfoRequest,
    SMB2TreeConnectRequest,
    SMB2WriteRequest,
)
from smb.smb_constants import (
    DELETE,
    FILE_CREATE,
    FILE_NON_DIRECTORY_FILE,
    FILE_OPEN,
    FILE_READ_ATTRIBUTES,
    FILE_READ_DATA,
    FILE_SEQUENTIAL_ONLY,
    FILE_SHARE_DELETE,
    FILE_SHARE_READ,
    FILE_SHARE_WRITE,
    FILE_WRITE_ATTRIBUTES,
    FILE_WRITE_DATA,
    SEC_IMPERSONATE,
    SYNCHRONIZE,
)
from smb.smb_structs import OperationFailure, ProtocolError, UnsupportedFeature
from smb.SMBConnection import SMBConnection
from smb.utils import convertFILETIMEtoEpoch

from .base import (
    CHUNK_SIZE,
    ChunkReader,
    Entry,
    HashingReader,
    Remote,
    RemoteConfigError,
    RemoteError,
    RemoteNotFound,
    RemoteUnavailable,
    clean_path,
    temp_name,
    verify_md5,
)

T = TypeVar("T")

#: Requests kept in flight by reads and writes: enough to keep client and server busy at once.
PIPELINE_DEPTH = 8
#: Bytes of the caller's stream read (outside the lock) per round of pipelined writes.
UPLOAD_CHUNK = 4 * CHUNK_SIZE

# NT status codes ([MS-ERREF] 2.3) that decide how a failure is reported.
STATUS_END_OF_FILE = 0xC0000011
STATUS_ACCESS_DENIED = 0xC0000022
STATUS_OBJECT_NAME_COLLISION = 0xC0000035
STATUS_SHARING_VIOLATION = 0xC0000043
STATUS_BAD_NETWORK_NAME = 0xC00000CC
NOT_FOUND = {
    0xC000000F,  # NO_SUCH_FILE
    0xC0000034,  # OBJECT_NAME_NOT_FOUND
    0xC000003A,  # OBJECT_PATH_NOT_FOUND
    0xC0000056,  # DELETE_PENDING: deleted, but someone still has it open
    0xC00000BA,  # FILE_IS_A_DIRECTORY: there is no *file* at that path
    0xC0000103,  # NOT_A_DIRECTORY: a parent is a file
}
BUSY = {
    STATUS_SHARING_VIOLATION,  # another client holds the file open exclusively
    0xC0000054,  # FILE_LOCK_CONFLICT
    0xC000009A,  # INSUFFICIENT_RESOURCES
}
SESSION_GONE = {
    0xC00000C9,  # NETWORK_NAME_DELETED: the share was disconnected
    0xC0000203,  # USER_SESSION_DELETED
    0xC000035C,  # NETWORK_SESSION_EXPIRED
}
PERMANENT = {
    STATUS_ACCESS_DENIED: "permission denied",
    0xC000007F: "the disk is full",
    0xC0000044: "quota exceeded",
    0xC0000033: "the server refuses this name",
    STATUS_OBJECT_NAME_COLLISION: "a file or folder of that name already exists",
    0xC0000101: "the folder is not empty",
}

# Characters Windows and SMB refuse in names; ":" would address an alternate data stream, and
# "*" / "?" are wildcards.
FORBIDDEN_CHARACTERS = frozenset('<>:"|?*')
SHARE_ALL = FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE
FILE_BASIC_INFORMATION = 0x04  # [MS-FSCC] 2.4.7
FILE_RENAME_INFORMATION = 0x0A  # [MS-FSCC] 2.4.37, SMB2 variant
FILE_DISPOSITION_INFORMATION = 0x0D  # [MS-FSCC] 2.4.11
CLOSE_POSTQUERY_ATTRIB = 0x0001  # [MS-SMB2] 2.2.15: the reply carries the final times and size
NT_EPOCH = datetime(1601, 1, 1, tzinfo=UTC)  # where SMB's FILETIME counts from


class _StatusError(Exception):
    """A request of ours came back with a failure status."""

    def __init__(self, status: int, what: str) -> None:
        super().__init__(f"{what} failed (NT status 0x{status:08X})")
        self.status = status


class _NetbiosRefused(Exception):
    """The server refused the NetBIOS session request (port 139 mode)."""


class _Reply(NamedTuple):
    status: int
    payload: Any
    tid: int
    raw: bytes


@dataclass
class _Handle:
    """An open file on one particular connection; useless once that connection is replaced."""

    conn: _Connection
    tid: int
    fid: bytes
    size: int
    released: bool = field(default=False)


def _filetime(moment: datetime) -> int:
    """100-ns ticks since 1601, exactly (float arithmetic would be off by a tick now and then)."""
    if moment.tzinfo is None:
        moment = moment.astimezone()  # naive means local time, as for datetime.timestamp()
    return (moment - NT_EPOCH) // timedelta(microseconds=1) * 10


def _from_filetime(value: int) -> datetime:
    # pysmb's own conversion (its float rounding differs from exact arithmetic by a microsecond
    # now and then), so that the times write() reports equal those stat() and listings report.
    return datetime.fromtimestamp(convertFILETIMEtoEpoch(value), UTC)


def _as_bool(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise RemoteConfigError(f"{name} must be true or false, not {value!r}")


class _Request(SMB2Message):
    """An SMB2 request that asks for credits, so that several requests may be in flight."""

    CREDIT_REQUEST_OFFSET = 14  # [MS-SMB2] 2.2.1.2; pysmb always sends 0 there

    def __init__(self, payload: Any, tid: int, credits: int) -> None:
        super().__init__(payload)
        self.tid = tid
        self._credits = credits

    def encode(self) -> bytes:
        raw = super().encode()
        at = self.CREDIT_REQUEST_OFFSET
        return raw[:at] + struct.pack("<H", self._credits) + raw[at + 2 :]


class _Connection(SMBConnection):
    """pysmb's SMBConnection plus the SMB2 requests that move file content."""

    #: Requests the server currently allows ([MS-SMB2] 3.2.4.1.2): +granted per reply, -1 per
    #: request (SMB 2.0.2 charges one credit per request).
    credits = 0

    def onNMBSessionFailed(self) -> None:  # pysmb's callback for a refused NetBIOS session
        raise _NetbiosRefused()

    def _sendSMBMessage_SMB2(self, smb_message: SMB2Message) -> None:  # counts every request
        self.credits -= 1
        super()._sendSMBMessage_SMB2(smb_message)

    def _updateState_SMB2(self, message: SMB2Message) -> Any:  # counts every grant
        if message.isReply:
            self.credits += message.credit_re
        return super()._updateState_SMB2(message)

    # -- one request, or many in flight -------------------------------------------------------

    def _send(self, payload: Any, tid: int, on_reply: Callable[[_Reply], None]) -> None:
        # Ask for enough credits to keep a pipeline full, not for an ever-growing pile.
        wanted = max(1, min(PIPELINE_DEPTH, 2 * PIPELINE_DEPTH - self.credits))
        message = _Request(payload, tid, wanted)
        self._sendSMBMessage(message)

        def deliver(reply: SMB2Message, **_: Any) -> None:
            # pysmb decodes every reply into one reused message object: copy the fields now.
            on_reply(_Reply(reply.status, reply.payload, reply.tid, reply.raw_data))

        self.pending_requests[message.mid] = _PendingRequest(message.mid, 0, deliver, None)

    def request(self, payload: Any, tid: int, timeout: float) -> _Reply:
        """Send one request and wait for its reply."""
        replies: list[_Reply] = []
        self._send(payload, tid, replies.append)
        while not replies:
            self._pollForNetBIOSPacket(timeout)
        return replies[0]

    def pipeline(
        self,
        tid: int,
        requests: Iterator[tuple[Any, Callable[[_Reply], None]]],
        timeout: float,
    ) -> None:
        """Send `requests` keeping up to PIPELINE_DEPTH in flight (as far as the server's credits
        allow), passing each reply to its callback. Callbacks record failures instead of raising,
        so every reply is read and the conversation stays in step."""
        in_flight = 0

        def landed(callback: Callable[[_Reply], None]) -> Callable[[_Reply], None]:
            def on_reply(reply: _Reply) -> None:
                nonlocal in_flight
                in_flight -= 1
                callback(reply)

            return on_reply

        pending: Iterator[tuple[Any, Callable[[_Reply], None]]] | None = requests
        while True:
            while (
                pending is not None
                and in_flight < PIPELINE_DEPTH
                and (self.credits > 0 or in_flight == 0)
            ):
                item = next(pending, None)
                if item is None:
                    pending = None
                    break
                payload, callback = item
                self._send(payload, tid, landed(callback))
                in_flight += 1
            if in_flight == 0:
                return
            self._pollForNetBIOSPacket(timeout)

    # -- handles --------------------------------------------------------------------------------

    def tree(self, share: str, timeout: float) -> int:
        tid = self.connected_trees.get(share)
        if tid is None:
            path = rf"\\{self.remote_name.upper()}\{share}"
            reply = self.request(SMB2TreeConnectRequest(path), 0, timeout)
            if reply.status:
                raise _StatusError(reply.status, f"connect to share {share!r}")
            tid = self.connected_trees[share] = reply.tid
        return tid

    def open(
        self,
        tid: int,
        path: str,
        access: int,
        timeout: float,
        *,
        disposition: int = FILE_OPEN,
        options: int = 0,
    ) -> Any:
        create = SMB2CreateRequest(
            path,
            access_mask=access | SYNCHRONIZE,
            share_access=SHARE_ALL,  # our readers never block a writer, nor the reverse
            create_disp=disposition,
            create_options=FILE_NON_DIRECTORY_FILE | options,
            impersonation=SEC_IMPERSONATE,
            oplock=SMB2_OPLOCK_LEVEL_NONE,
        )
        reply = self.request(create, tid, timeout)
        if reply.status:
            raise _StatusError(reply.status, f"open {path}")
        return reply.payload

    def close_file(self, tid: int, fid: bytes, timeout: float) -> tuple[int, datetime]:
        """Close a handle; returns the file's final (size, modification time)."""
        reply = self.request(SMB2CloseRequest(fid, CLOSE_POSTQUERY_ATTRIB), tid, timeout)
        if reply.status:
            raise _StatusError(reply.status, "close")
        at = SMB2Message.HEADER_SIZE
        _, _, _, _, _, written, _, _, size, _ = struct.unpack_from("<HHIQQQQQQI", reply.raw, at)
        return size, _from_filetime(written)

    def set_info(self, tid: int, fid: bytes, info_class: int, data: bytes, timeout: float) -> None:
        reply = self.request(
            SMB2SetInfoRequest(fid, 0, SMB2_INFO_FILE, info_class, data), tid, timeout
        )
        if reply.status:
            raise _StatusError(reply.status, f"set file information class {info_class}")

    def rename_open(
        self, tid: int, fid: bytes, new_path: str, *, replace: bool, timeout: float
    ) -> None:
        """Rename the file open as `fid`; the new name is relative to the share."""
        name = new_path.encode("utf-16-le")
        data = struct.pack("<B7xQI", int(replace), 0, len(name)) + name
        self.set_info(tid, fid, FILE_RENAME_INFORMATION, data, timeout)

    def abandon(self, tid: int, fid: bytes, timeout: float) -> None:
        """Delete an open file and close it; on a healthy connection, after a failed write."""
        with contextlib.suppress(_StatusError):
            self.set_info(tid, fid, FILE_DISPOSITION_INFORMATION, b"\x01", timeout)
        with contextlib.suppress(_StatusError):
            self.close_file(tid, fid, timeout)

    def delete_file(self, share: str, path: str, timeout: float) -> None:
        tid = self.tree(share, timeout)
        opened = self.open(tid, path, DELETE | FILE_READ_ATTRIBUTES, timeout)
        # With other handles still open (a reader), the name goes when the last one closes.
        try:
            self.set_info(tid, opened.fid, FILE_DISPOSITION_INFORMATION, b"\x01", timeout)
        finally:
            self.close_file(tid, opened.fid, timeout)

    # -- content ------------------------------------------------------------------------------

    def read_range(self, tid: int, fid: bytes, offset: int, length: int, timeout: float) -> bytes:
        """Up to `length` bytes from `offset` (fewer at the end of the file), read with several
        requests in flight."""
        step = self.max_read_size
        pieces: dict[int, bytes] = {}
        failures: list[int] = []

        def requests() -> Iterator[tuple[Any, Callable[[_Reply], None]]]:
            for index, start in enumerate(range(offset, offset + length, step)):
                if failures or any(len(piece) < step for piece in pieces.values()):
                    return  # an error, or the end of the file: stop asking

                def on_reply(reply: _Reply, index: int = index) -> None:
                    if reply.status == STATUS_END_OF_FILE:
                        pieces[index] = b""
                    elif reply.status:
                        failures.append(reply.status)
                    else:
                        pieces[index] = reply.payload.data

                count = min(step, offset + length - start)
                yield SMB2ReadRequest(fid, start, count), on_reply

        self.pipeline(tid, requests(), timeout)
        if failures:
            raise _StatusError(failures[0], "read")
        data = []
        for index in range(len(pieces)):
            piece = pieces.get(index, b"")
            data.append(piece)
            if len(piece) < step:
                break  # the end of the file (it may have shrunk since it was opened)
        return b"".join(data)

    def create_temp(self, share: str, temp: str, timeout: float) -> tuple[int, bytes]:
        """Create the upload's temp file, marked delete-on-close: if the upload fails or the
        connection dies, the server removes it. `finish_upload` lifts the mark."""
        tid = self.tree(share, timeout)
        access = FILE_WRITE_DATA | FILE_READ_ATTRIBUTES | FILE_WRITE_ATTRIBUTES | DELETE
        fid = self.open(tid, temp, access, timeout, disposition=FILE_CREATE).fid
        try:
            self.set_info(tid, fid, FILE_DISPOSITION_INFORMATION, b"\x01", timeout)
        except _StatusError:
            self.close_file(tid, fid, timeout)
            raise
        return tid, fid

    def write_at(self, tid: int, fid: bytes, offset: int, data: bytes, timeout: float) -> int:
        """Write `data` at `offset` with several requests in flight; returns the bytes the
        server acknowledged."""
        step = self.max_write_size
        acknowledged = 0
        failures: list[int] = []

        def count(reply: _Reply) -> None:
            nonlocal acknowledged
            if reply.status:
                failures.append(reply.status)
            else:
                acknowledged += reply.payload.count

        def requests() -> Iterator[tuple[Any, Callable[[_Reply], None]]]:
            view = memoryview(data)
            for start in range(0, len(data), step):
                if failures:
                    return
                piece = bytes(view[start : start + step])
                yield SMB2WriteRequest(fid, piece, offset + start), count

        self.pipeline(tid, requests(), timeout)
        if failures:
            raise _StatusError(failures[0], "write")
        return acknowledged

    def finish_upload(
        self, tid: int, fid: bytes, final: str, modified: datetime | None, timeout: float
    ) -> tuple[int, datetime]:
        """Stamp the temp file's mtime, keep it, rename it over `final` and close it; returns
        its (size, modification time) as the server reports them."""
        if modified is not None:
            # Zero means "leave unchanged" for the creation, access and change times.
            stamp = struct.pack("<QQQQI4x", 0, 0, _filetime(modified), 0, 0)
            self.set_info(tid, fid, FILE_BASIC_INFORMATION, stamp, timeout)
        self.set_info(tid, fid, FILE_DISPOSITION_INFORMATION, b"\x00", timeout)
        self._replace(tid, fid, final, timeout)
        return self.close_file(tid, fid, timeout)

    def _replace(self, tid: int, fid: bytes, final: str, timeout: float) -> None:
        """Move the open file `fid` to `final`, replacing what is there.

        With ReplaceIfExists set the server swaps the name in one step (Samba: rename(2)), so
        other clients see the old file or the new one, never a gap. Windows and Samba refuse
        that (ACCESS_DENIED) while `final` is open, e.g. by one of our readers, which keep
        their handle for a whole read. Renaming an open file is allowed, though, so then: move
        the old file aside under a hidden temp name, move the new one in, delete the old one (it
        vanishes when its readers close it; they keep reading the old bytes). That leaves a
        short window without `final`, and a crash inside it leaves the old version under the
        hidden name: the safest sequence SMB offers for a file in use.
        """
        try:
            self.rename_open(tid, fid, final, replace=True, timeout=timeout)
            return
        except _StatusError as exc:
            if exc.status not in (STATUS_ACCESS_DENIED, STATUS_SHARING_VIOLATION):
                raise
        aside = temp_name(final.replace("\\", "/")).replace("/", "\\")
        old = self.open(tid, final, DELETE | FILE_READ_ATTRIBUTES, timeout)
        try:
            self.rename_open(tid, old.fid, aside, replace=False, timeout=timeout)
        except _StatusError:
            self.close_file(tid, old.fid, timeout)
            raise
        try:
            self.rename_open(tid, fid, final, replace=True, timeout=timeout)
        except _StatusError:
            with contextlib.suppress(_StatusError):  # put the old version back
                self.rename_open(tid, old.fid, final, replace=False, timeout=timeout)
            self.close_file(tid, old.fid, timeout)
            raise
        self.abandon(tid, old.fid, timeout)


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


def _status_of(exc: Exception) -> int | None:
    if isinstance(exc, _StatusError):
        return exc.status
    for message in reversed(getattr(exc, "smb_messages", [])):
        if getattr(message, "status", 0):
            return message.status
    return None


class SmbRemote(Remote):
    kind = "smb"
    secret_settings = frozenset({"password"})

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
        self.is_direct_tcp = _as_bool(is_direct_tcp, "is_direct_tcp")
        self.client_name = client_name or "syncapp"
        self.server_name = server_name or self.server
        try:
            self.port = int(port)
            self.timeout = float(timeout)
        except (TypeError, ValueError) as exc:
            raise RemoteConfigError(f"port and timeout must be numbers: {exc}") from None
        if not 0 < self.port < 65536 or self.timeout <= 0:
            raise RemoteConfigError("port must be 1-65535 and timeout positive")
        if not self.share_name or any(c in self.share_name for c in "/\\"):
            raise RemoteConfigError(f"share_name must be one share's name, not {share_name!r}")
        try:
            self.root = clean_path(remote_path or "")
        except RemoteError as exc:
            raise RemoteConfigError(f"remote_path: {exc}") from None
        self._lock = threading.Lock()
        self._conn: _Connection | None = None
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

    def _connection(self) -> _Connection:
        if self._conn is None:
            conn = _Connection(
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

    def _handshake(self, conn: _Connection) -> None:
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
        except _NetbiosRefused as exc:
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

    def _call(self, what: str, op: Callable[[_Connection], T], **options: Any) -> T:
        with self._locked():
            return self._call_locked(what, op, **options)

    def _call_locked(
        self,
        what: str,
        op: Callable[[_Connection], T],
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
            except (OperationFailure, _StatusError) as exc:
                status = _status_of(exc)
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

    def open_read(self, path: str) -> BinaryIO:
        rel = self._file_rel(path)
        smb_path = self._smb(rel)

        def open_file(conn: _Connection) -> _Handle:
            tid = conn.tree(self.share_name, self.timeout)
            access = FILE_READ_DATA | FILE_READ_ATTRIBUTES
            opened = conn.open(tid, smb_path, access, self.timeout, options=FILE_SEQUENTIAL_ONLY)
            return _Handle(conn, tid, opened.fid, opened.file_size)

        handle = self._call(f"read {rel}", open_file)
        return ChunkReader(self._chunks(rel, handle), on_close=lambda: self._release(handle))

    def _chunks(self, rel: str, handle: _Handle) -> Iterator[bytes]:
        """The content in CHUNK_SIZE pieces, all read through the one handle opened for it."""
        offset = 0
        while offset < handle.size:
            length = min(CHUNK_SIZE, handle.size - offset)
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

    def _close_orphans(self, conn: _Connection) -> None:
        while self._orphans:
            handle = self._orphans.pop()
            if handle.conn is conn:
                with contextlib.suppress(_StatusError):
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
        def create(conn: _Connection) -> _Handle:
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

            def make(conn: _Connection, folder: str = folder) -> None:
                try:
                    conn.createDirectory(self.share_name, folder, timeout=self.timeout)
                except OperationFailure as exc:
                    if _status_of(exc) == STATUS_SHARING_VIOLATION:
                        return  # another connection is creating this very folder right now
                    if _status_of(exc) != STATUS_OBJECT_NAME_COLLISION:
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

    def checksum(self, path: str) -> str | None:
        if self.stat(path) is None:
            raise RemoteNotFound(self._rel(path))
        return None  # SMB keeps no checksum; verification uses the hash computed by write()
