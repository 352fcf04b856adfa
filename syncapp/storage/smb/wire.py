"""The SMB2 wire layer under the smb backend: pysmb's connection plus the requests that move
file content.

pysmb (pinned, 1.2.15) authenticates, frames and signs the conversation, and its public API lists
folders, reads attributes and creates folders. File content moves through `Connection`'s own
SMB2 requests, built from pysmb's message classes and its private request bookkeeping
(`_PendingRequest`, `_sendSMBMessage`, `_pollForNetBIOSPacket`), because the public API cannot:
- keep several reads or writes in flight (pysmb waits for each 64 KiB reply before sending the
  next request; SMB 2.0.2, all pysmb speaks, caps a request at 64 KiB);
- rename over an existing file (pysmb's `rename` sends ReplaceIfExists=0): an atomic overwrite;
- keep one read handle for a whole file, so a long read never mixes two versions of it;
- mark an upload's temp file delete-on-close, so the server removes it when an upload dies with
  its connection.
Everything here speaks in NT status codes (`StatusError`); `remote.py` turns them into the storage
errors.

Kept over smbprotocol (the maintained SMB 2/3 client) by measurement (bench/smb_clients.py,
docs/benchmarks.md, issue 23): with its large requests smbprotocol moves a big file in 0.5-0.7 x
the time, but spends 2-6 x this layer's CPU per small file, the cost a sync of many files pays.
The price is the pin above: a pysmb upgrade must pass tests/storage/test_smb.py first.
"""

from __future__ import annotations

import contextlib
import struct
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from smb.base import _PendingRequest
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
    FILE_SHARE_DELETE,
    FILE_SHARE_READ,
    FILE_SHARE_WRITE,
    FILE_WRITE_ATTRIBUTES,
    FILE_WRITE_DATA,
    SEC_IMPERSONATE,
    SYNCHRONIZE,
)
from smb.SMBConnection import SMBConnection
from smb.utils import convertFILETIMEtoEpoch

from ..base import temp_name

#: Requests kept in flight by reads and writes: enough to keep client and server busy at once.
PIPELINE_DEPTH = 8

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

SHARE_ALL = FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE
FILE_BASIC_INFORMATION = 0x04  # [MS-FSCC] 2.4.7
FILE_RENAME_INFORMATION = 0x0A  # [MS-FSCC] 2.4.37, SMB2 variant
FILE_DISPOSITION_INFORMATION = 0x0D  # [MS-FSCC] 2.4.11
CLOSE_POSTQUERY_ATTRIB = 0x0001  # [MS-SMB2] 2.2.15: the reply carries the final times and size
NT_EPOCH = datetime(1601, 1, 1, tzinfo=UTC)  # where SMB's FILETIME counts from


class StatusError(Exception):
    """A request of ours came back with a failure status."""

    def __init__(self, status: int, what: str) -> None:
        super().__init__(f"{what} failed (NT status 0x{status:08X})")
        self.status = status


class NetbiosRefused(Exception):
    """The server refused the NetBIOS session request (port 139 mode)."""


class Reply(NamedTuple):
    status: int
    payload: Any
    tid: int
    raw: bytes


def filetime(moment: datetime) -> int:
    """100-ns ticks since 1601, exactly (float arithmetic would be off by a tick now and then)."""
    if moment.tzinfo is None:
        moment = moment.astimezone()  # naive means local time, as for datetime.timestamp()
    return (moment - NT_EPOCH) // timedelta(microseconds=1) * 10


def from_filetime(value: int) -> datetime:
    # pysmb's own conversion (its float rounding differs from exact arithmetic by a microsecond
    # now and then), so that the times write() reports equal those stat() and listings report.
    return datetime.fromtimestamp(convertFILETIMEtoEpoch(value), UTC)


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


class Connection(SMBConnection):
    """pysmb's SMBConnection plus the SMB2 requests that move file content."""

    #: Requests the server currently allows ([MS-SMB2] 3.2.4.1.2): +granted per reply, -1 per
    #: request (SMB 2.0.2 charges one credit per request).
    credits = 0

    def onNMBSessionFailed(self) -> None:  # pysmb's callback for a refused NetBIOS session
        raise NetbiosRefused()

    def _sendSMBMessage_SMB2(self, smb_message: SMB2Message) -> None:  # counts every request
        self.credits -= 1
        super()._sendSMBMessage_SMB2(smb_message)

    def _updateState_SMB2(self, message: SMB2Message) -> Any:  # counts every grant
        if message.isReply:
            self.credits += message.credit_re
        return super()._updateState_SMB2(message)

    # -- one request, or many in flight -------------------------------------------------------

    def _send(self, payload: Any, tid: int, on_reply: Callable[[Reply], None]) -> None:
        # Ask for enough credits to keep a pipeline full, not for an ever-growing pile.
        wanted = max(1, min(PIPELINE_DEPTH, 2 * PIPELINE_DEPTH - self.credits))
        message = _Request(payload, tid, wanted)
        self._sendSMBMessage(message)

        def deliver(reply: SMB2Message, **_: Any) -> None:
            # pysmb decodes every reply into one reused message object: copy the fields now.
            on_reply(Reply(reply.status, reply.payload, reply.tid, reply.raw_data))

        self.pending_requests[message.mid] = _PendingRequest(message.mid, 0, deliver, None)

    def request(self, payload: Any, tid: int, timeout: float) -> Reply:
        """Send one request and wait for its reply."""
        replies: list[Reply] = []
        self._send(payload, tid, replies.append)
        while not replies:
            self._pollForNetBIOSPacket(timeout)
        return replies[0]

    def pipeline(
        self,
        tid: int,
        requests: Iterator[tuple[Any, Callable[[Reply], None]]],
        timeout: float,
    ) -> None:
        """Send `requests` keeping up to PIPELINE_DEPTH in flight (as far as the server's credits
        allow), passing each reply to its callback. Callbacks record failures instead of raising,
        so every reply is read and the conversation stays in step."""
        in_flight = 0

        def landed(callback: Callable[[Reply], None]) -> Callable[[Reply], None]:
            def on_reply(reply: Reply) -> None:
                nonlocal in_flight
                in_flight -= 1
                callback(reply)

            return on_reply

        pending: Iterator[tuple[Any, Callable[[Reply], None]]] | None = requests
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
                raise StatusError(reply.status, f"connect to share {share!r}")
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
            raise StatusError(reply.status, f"open {path}")
        return reply.payload

    def close_file(self, tid: int, fid: bytes, timeout: float) -> tuple[int, datetime]:
        """Close a handle; returns the file's final (size, modification time)."""
        reply = self.request(SMB2CloseRequest(fid, CLOSE_POSTQUERY_ATTRIB), tid, timeout)
        if reply.status:
            raise StatusError(reply.status, "close")
        at = SMB2Message.HEADER_SIZE
        _, _, _, _, _, written, _, _, size, _ = struct.unpack_from("<HHIQQQQQQI", reply.raw, at)
        return size, from_filetime(written)

    def set_info(self, tid: int, fid: bytes, info_class: int, data: bytes, timeout: float) -> None:
        reply = self.request(
            SMB2SetInfoRequest(fid, 0, SMB2_INFO_FILE, info_class, data), tid, timeout
        )
        if reply.status:
            raise StatusError(reply.status, f"set file information class {info_class}")

    def rename_open(
        self, tid: int, fid: bytes, new_path: str, *, replace: bool, timeout: float
    ) -> None:
        """Rename the file open as `fid`; the new name is relative to the share."""
        name = new_path.encode("utf-16-le")
        data = struct.pack("<B7xQI", int(replace), 0, len(name)) + name
        self.set_info(tid, fid, FILE_RENAME_INFORMATION, data, timeout)

    def move_file(
        self, share: str, path: str, new_path: str, timeout: float
    ) -> tuple[int, datetime]:
        """Rename `path` over `new_path` (both inside the share) on the server; returns the
        file's (size, modification time)."""
        tid = self.tree(share, timeout)
        opened = self.open(tid, path, DELETE | FILE_READ_ATTRIBUTES, timeout)
        try:
            self._replace(tid, opened.fid, new_path, timeout)
        except StatusError:
            self.close_file(tid, opened.fid, timeout)
            raise
        return self.close_file(tid, opened.fid, timeout)

    def abandon(self, tid: int, fid: bytes, timeout: float) -> None:
        """Delete an open file and close it; on a healthy connection, after a failed write."""
        with contextlib.suppress(StatusError):
            self.set_info(tid, fid, FILE_DISPOSITION_INFORMATION, b"\x01", timeout)
        with contextlib.suppress(StatusError):
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

        def requests() -> Iterator[tuple[Any, Callable[[Reply], None]]]:
            for index, start in enumerate(range(offset, offset + length, step)):
                if failures or any(len(piece) < step for piece in pieces.values()):
                    return  # an error, or the end of the file: stop asking

                def on_reply(reply: Reply, index: int = index) -> None:
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
            raise StatusError(failures[0], "read")
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
        except StatusError:
            self.close_file(tid, fid, timeout)
            raise
        return tid, fid

    def write_at(self, tid: int, fid: bytes, offset: int, data: bytes, timeout: float) -> int:
        """Write `data` at `offset` with several requests in flight; returns the bytes the
        server acknowledged."""
        step = self.max_write_size
        acknowledged = 0
        failures: list[int] = []

        def count(reply: Reply) -> None:
            nonlocal acknowledged
            if reply.status:
                failures.append(reply.status)
            else:
                acknowledged += reply.payload.count

        def requests() -> Iterator[tuple[Any, Callable[[Reply], None]]]:
            view = memoryview(data)
            for start in range(0, len(data), step):
                if failures:
                    return
                piece = bytes(view[start : start + step])
                yield SMB2WriteRequest(fid, piece, offset + start), count

        self.pipeline(tid, requests(), timeout)
        if failures:
            raise StatusError(failures[0], "write")
        return acknowledged

    def finish_upload(
        self, tid: int, fid: bytes, final: str, modified: datetime | None, timeout: float
    ) -> tuple[int, datetime]:
        """Stamp the temp file's mtime, keep it, rename it over `final` and close it; returns
        its (size, modification time) as the server reports them."""
        if modified is not None:
            # Zero means "leave unchanged" for the creation, access and change times.
            stamp = struct.pack("<QQQQI4x", 0, 0, filetime(modified), 0, 0)
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
        except StatusError as exc:
            if exc.status not in (STATUS_ACCESS_DENIED, STATUS_SHARING_VIOLATION):
                raise
        aside = temp_name(final.replace("\\", "/")).replace("/", "\\")
        old = self.open(tid, final, DELETE | FILE_READ_ATTRIBUTES, timeout)
        try:
            self.rename_open(tid, old.fid, aside, replace=False, timeout=timeout)
        except StatusError:
            self.close_file(tid, old.fid, timeout)
            raise
        try:
            self.rename_open(tid, fid, final, replace=True, timeout=timeout)
        except StatusError:
            with contextlib.suppress(StatusError):  # put the old version back
                self.rename_open(tid, old.fid, final, replace=False, timeout=timeout)
            self.close_file(tid, old.fid, timeout)
            raise
        self.abandon(tid, old.fid, timeout)


def status_of(exc: Exception) -> int | None:
    if isinstance(exc, StatusError):
        return exc.status
    for message in reversed(getattr(exc, "smb_messages", [])):
        if getattr(message, "status", 0):
            return message.status
    return None
