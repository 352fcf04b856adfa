"""syncapp's SMB backend (pysmb + its own SMB2 pipelining) against smbprotocol (issue 23).

    python bench/smb_clients.py [--size 256MiB] [--files 1000] [--file-size 4KiB] [--repeat 3]
                                [--clients syncapp,smbclient,smbprotocol,smbprotocol-2.1]

smbprotocol is not one of syncapp's requirements: run this with a Python that has it
(`pip install -r bench/requirements.txt` into a venv of its own). A private smbd (Samba, started
as the tests start it: tests/peers/smb.py) serves a share over loopback; every client does the
same work the backend's contract asks for, from and to memory:
- write: the bytes go to a temp name, are MD5'd on the way (syncapp's HashingReader, for every
  client), and the temp file is renamed over the final name (an atomic overwrite);
- read: the whole file, in the pieces the client reads best.
Clients:
- syncapp: `SmbRemote` (syncapp/storage/smb/): pysmb 1.2.15 speaking SMB 2.0.2, 64 KiB requests,
  8 in flight; a write is create temp + delete-on-close, writes, un-mark, rename, close;
- smbclient: smbprotocol's high-level API (`smbclient.open_file`, `smbclient.replace`): SMB 3.1.1,
  signed, one request in flight of up to the negotiated size (Samba: 8 MiB, "large MTU");
- smbprotocol: its low-level API (`Connection`, `Session`, `TreeConnect`, `Open`) used as a backend
  would: the write's steps as syncapp's (delete-on-close temp, un-mark + rename + close in one
  compound), 1 MiB requests with up to 8 in flight (credits asked for as they are spent), and a
  small file's open + read + close as one compound. SMB 3.1.1 and signed (smbprotocol's default;
  3.1.1 refuses an unsigned TREE_CONNECT);
- smbprotocol-2.1: the same at SMB 2.1 without signing, as pysmb speaks to a Samba that does not
  require signing (the clients compared with the same security; 2.1 has large MTU too).
Cases: write and read of one --size file; write and read of --files files of --file-size (round
trips). Each figure: best wall time of --repeat rounds (the clients take turns), with the CPU
seconds of this process (all threads) and of smbd in that round; ratios against syncapp.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import os
import shutil
import sys
import tempfile
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from syncapp.config import parse_size  # noqa: E402
from syncapp.storage import open_remote  # noqa: E402
from syncapp.storage.base import HashingReader  # noqa: E402
from tests.peers.smb import SHARE, start_smbd  # noqa: E402

try:
    import smbclient
    from smbprotocol import MAX_PAYLOAD_SIZE, Dialects
    from smbprotocol.connection import Connection
    from smbprotocol.file_info import (
        FileDispositionInformation,
        FileRenameInformation,
    )
    from smbprotocol.open import (
        CreateDisposition,
        CreateOptions,
        FilePipePrinterAccessMask,
        ImpersonationLevel,
        Open,
        ShareAccess,
        SMB2SetInfoRequest,
        SMB2SetInfoResponse,
    )
    from smbprotocol.session import Session
    from smbprotocol.tree import TreeConnect
except ImportError:
    sys.exit("smbprotocol is missing: pip install -r bench/requirements.txt (in a venv)")

MiB = 1024 * 1024
PIECE = 4 * MiB  # what a client reads from its source, or asks of the server, per call
#: the file id of a compound's related requests: "the one the CREATE before me opened"
RELATED_FILE_ID = b"\xff" * 16
SHARE_ALL = (
    ShareAccess.FILE_SHARE_READ | ShareAccess.FILE_SHARE_WRITE | ShareAccess.FILE_SHARE_DELETE
)


class Client:
    name = ""

    def write(self, path: str, data: bytes) -> str:
        """Store `data` at `path` (relative, "/"-separated) atomically; returns its MD5."""
        raise NotImplementedError

    def read(self, path: str) -> bytes:
        raise NotImplementedError

    def close(self) -> None:
        pass


class SyncappClient(Client):
    name = "syncapp"

    def __init__(self, settings: dict, folder: str) -> None:
        self.remote = open_remote("smb", **settings, remote_path=folder)

    def write(self, path: str, data: bytes) -> str:
        entry = self.remote.write(path, io.BytesIO(data), size=len(data))
        return entry.md5 or ""

    def read(self, path: str) -> bytes:
        with self.remote.open_read(path) as reader:
            return reader.read()

    def close(self) -> None:
        self.remote.close()


def _md5_pieces(data: bytes) -> tuple[HashingReader, Callable[[], bytes]]:
    """The source as the backend would read it: PIECE at a time, MD5'd on the way."""
    reader = HashingReader(io.BytesIO(data))
    return reader, lambda: reader.read(PIECE)


class SmbclientClient(Client):
    name = "smbclient"

    def __init__(self, settings: dict, folder: str) -> None:
        self.server, self.port = settings["server"], settings["port"]
        self.base = rf"\\{self.server}\{SHARE}\{folder}"
        self.cache: dict = {}
        self.options = {"port": self.port, "connection_cache": self.cache}
        smbclient.register_session(
            self.server,
            username=settings["username"],
            password=settings["password"],
            encrypt=False,
            auth_protocol="ntlm",
            **self.options,
        )

    def _path(self, path: str) -> str:
        return self.base + "\\" + path.replace("/", "\\")

    def write(self, path: str, data: bytes) -> str:
        final = self._path(path)
        temp = final + ".partial"
        reader, next_piece = _md5_pieces(data)
        with smbclient.open_file(temp, "wb", buffering=0, **self.options) as target:
            while piece := next_piece():
                view = memoryview(piece)
                while view:
                    view = view[target.write(view) :]
        smbclient.replace(temp, final, **self.options)
        return reader.md5

    def read(self, path: str) -> bytes:
        parts = []
        with smbclient.open_file(self._path(path), "rb", buffering=0, **self.options) as source:
            while piece := source.read(PIECE):
                parts.append(piece)
        return b"".join(parts)

    def close(self) -> None:
        smbclient.reset_connection_cache(connection_cache=self.cache)


class SmbprotocolClient(Client):
    """smbprotocol's low-level API, used the way a backend built on it would. Requests sent with
    `send=False` come back with the function that receives and decodes their reply."""

    name = "smbprotocol"
    REQUEST = 1 * MiB  # per READ/WRITE request (16 credits each under large MTU)
    DEPTH = 8  # requests in flight

    def __init__(self, settings: dict, folder: str, *, signed: bool) -> None:
        self.connection = Connection(uuid.uuid4(), settings["server"], settings["port"], signed)
        # SMB 3.1.1 requires a signed TREE_CONNECT: unsigned means SMB 2.1 (large MTU all the same)
        self.connection.connect(dialect=None if signed else Dialects.SMB_2_1_0)
        self.session = Session(
            self.connection,
            settings["username"],
            settings["password"],
            require_encryption=False,
            auth_protocol="ntlm",
        )
        self.session.connect()
        self.tree = TreeConnect(self.session, rf"\\{settings['server']}\{SHARE}")
        self.tree.connect()
        self.folder = folder
        self.name = "smbprotocol" if signed else "smbprotocol-2.1"

    def _path(self, path: str) -> str:
        return self.folder + "\\" + path.replace("/", "\\")

    def _create(self, path: str, access: int, disposition: int) -> tuple[Open, tuple]:
        handle = Open(self.tree, path)
        create = handle.create(
            ImpersonationLevel.Impersonation,
            access | FilePipePrinterAccessMask.SYNCHRONIZE,
            0,
            SHARE_ALL,
            disposition,
            CreateOptions.FILE_NON_DIRECTORY_FILE,
            send=False,
        )
        handle.file_id = RELATED_FILE_ID  # what the compound's next requests refer to
        return handle, create

    def _compound(self, steps: list[tuple]) -> list:
        """Send (message, receive) steps as one related compound: one round trip."""
        requests = self.connection.send_compound(
            [message for message, _ in steps],
            self.session.session_id,
            self.tree.tree_connect_id,
            related=True,
        )
        return [receive(request) for (_, receive), request in zip(steps, requests, strict=True)]

    def _set_info(self, handle: Open, info) -> tuple:
        request = SMB2SetInfoRequest()
        request["info_type"] = info.INFO_TYPE
        request["file_info_class"] = info.INFO_CLASS
        request["file_id"] = handle.file_id
        request["buffer"] = info

        def receive(sent) -> None:
            SMB2SetInfoResponse().unpack(self.connection.receive(sent)["data"].get_value())

        return request, receive

    def _pipeline(self, steps, on_reply: Callable) -> None:
        """Send (message, receive, length) steps keeping up to DEPTH in flight, asking for more
        credits while the window is shorter than DEPTH requests' worth."""
        window = self.connection.sequence_window
        multi = self.connection.supports_multi_credit
        in_flight: deque = deque()

        def settle_oldest() -> None:
            receive_reply, sent = in_flight.popleft()
            on_reply(receive_reply(sent))

        for message, receive, length in steps:
            charge = (max(0, length - 1) // MAX_PAYLOAD_SIZE + 1) if multi else 1
            while in_flight and window["high"] - window["low"] < charge:
                settle_oldest()
            short = self.DEPTH * charge - (window["high"] - window["low"])
            request = self.connection.send(
                message,
                self.session.session_id,
                self.tree.tree_connect_id,
                credit_request=charge + max(0, short),
            )
            in_flight.append((receive, request))
            if len(in_flight) >= self.DEPTH:
                settle_oldest()
        while in_flight:
            settle_oldest()

    def write(self, path: str, data: bytes) -> str:
        final = self._path(path)
        access = (
            FilePipePrinterAccessMask.FILE_WRITE_DATA
            | FilePipePrinterAccessMask.FILE_READ_ATTRIBUTES
            | FilePipePrinterAccessMask.DELETE
        )
        handle, create = self._create(final + ".partial", access, CreateDisposition.FILE_CREATE)
        mark = FileDispositionInformation()
        mark["delete_pending"] = True
        self._compound([create, self._set_info(handle, mark)])  # the reply sets the file id
        reader, next_piece = _md5_pieces(data)
        written = 0

        def writes():
            offset = 0
            while piece := next_piece():
                view = memoryview(piece)
                for start in range(0, len(piece), self.REQUEST):
                    chunk = bytes(view[start : start + self.REQUEST])
                    yield (*handle.write(chunk, offset, send=False), len(chunk))
                    offset += len(chunk)

        def count(n: int) -> None:
            nonlocal written
            written += n

        self._pipeline(writes(), count)
        if written != len(data):
            raise RuntimeError(f"wrote {written} of {len(data)} bytes")
        unmark = FileDispositionInformation()
        unmark["delete_pending"] = False
        rename = FileRenameInformation()
        rename["replace_if_exists"] = True
        rename["file_name"] = final
        self._compound(
            [
                self._set_info(handle, unmark),
                self._set_info(handle, rename),
                handle.close(send=False),
            ]
        )
        return reader.md5

    def read(self, path: str) -> bytes:
        handle, create = self._create(
            self._path(path), FilePipePrinterAccessMask.FILE_READ_DATA, CreateDisposition.FILE_OPEN
        )
        # Open and read the first request's worth in one round trip: a small file is done.
        _, first = self._compound([create, handle.read(0, self.REQUEST, send=False)])
        data = [first]
        size = handle.end_of_file
        if len(first) < size:

            def reads():
                for offset in range(len(first), size, self.REQUEST):
                    length = min(self.REQUEST, size - offset)
                    yield (*handle.read(offset, length, send=False), length)

            self._pipeline(reads(), data.append)
        handle.close()
        return b"".join(data)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.connection.disconnect()


# -- running ---------------------------------------------------------------------------------------


@dataclass
class Figure:
    wall: float
    cpu: float
    server_cpu: float


class ServerCpu:
    """CPU seconds of smbd: the main process and the children that serve the connections."""

    def __init__(self, pid: int) -> None:
        self.main = psutil.Process(pid)

    def __call__(self) -> float:
        total = 0.0
        for process in [self.main, *self.main.children(recursive=True)]:
            with contextlib.suppress(psutil.NoSuchProcess):
                times = process.cpu_times()
                total += times.user + times.system
        return total


def measure(action: Callable[[], None], server_cpu: ServerCpu) -> Figure:
    server, cpu, wall = server_cpu(), time.process_time(), time.perf_counter()
    action()
    return Figure(time.perf_counter() - wall, time.process_time() - cpu, server_cpu() - server)


def make_clients(names: list[str], settings: dict, share: Path) -> list[Client]:
    clients: list[Client] = []
    for name in names:
        folder = f"bench-{name}"
        (share / folder).mkdir(exist_ok=True)
        if name == "syncapp":
            client: Client = SyncappClient(settings, folder)
        elif name == "smbclient":
            client = SmbclientClient(settings, folder)
        elif name == "smbprotocol":
            client = SmbprotocolClient(settings, folder, signed=True)
        elif name == "smbprotocol-2.1":
            client = SmbprotocolClient(settings, folder, signed=False)
        else:
            raise SystemExit(f"unknown client {name!r}")
        client.folder = folder  # type: ignore[attr-defined]
        clients.append(client)
    return clients


def cases(data: bytes, small: bytes, files: int, share: Path) -> dict[str, Callable]:
    """Each case: (client, check) -> action; `check` verifies the result (in the first round)."""
    md5 = hashlib.md5(data).hexdigest()
    names = [f"small-{i:05d}.bin" for i in range(files)]

    def on_disk(client: Client, path: str) -> bytes:
        return (share / client.folder / path).read_bytes()  # type: ignore[attr-defined]

    def big_write(client: Client, check: bool) -> Callable[[], None]:
        def action() -> None:
            if client.write("big.bin", data) != md5:
                raise RuntimeError(f"{client.name}: wrong MD5")
            if check and on_disk(client, "big.bin") != data:
                raise RuntimeError(f"{client.name}: the stored file differs")

        return action

    def big_read(client: Client, check: bool) -> Callable[[], None]:
        def action() -> None:
            got = client.read("big.bin")
            if len(got) != len(data) or (check and got != data):
                raise RuntimeError(f"{client.name}: read {len(got)} bytes, not the file")

        return action

    def small_write(client: Client, check: bool) -> Callable[[], None]:
        def action() -> None:
            for name in names:
                client.write(name, small)
            if check and any(on_disk(client, name) != small for name in names):
                raise RuntimeError(f"{client.name}: a small file differs")

        return action

    def small_read(client: Client, check: bool) -> Callable[[], None]:
        def action() -> None:
            for name in names:
                if client.read(name) != small:
                    raise RuntimeError(f"{client.name}: {name} read back differs")

        return action

    return {
        "write": big_write,
        "read": big_read,
        "small-write": small_write,
        "small-read": small_read,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--size", default="256MiB", help="the big file's size")
    ap.add_argument("--files", type=int, default=1000, help="small files")
    ap.add_argument("--file-size", default="4KiB", help="each small file's size")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--clients", default="syncapp,smbclient,smbprotocol,smbprotocol-2.1")
    ap.add_argument("--cases", default="write,read,small-write,small-read")
    args = ap.parse_args()

    size, file_size = parse_size(args.size), parse_size(args.file_size)
    data, small = os.urandom(size), os.urandom(file_size)
    base = Path(tempfile.mkdtemp(prefix="smb-bench-"))
    peer = start_smbd(base)
    try:
        share = peer.share_root
        clients = make_clients(args.clients.split(","), peer.settings, share)
        server_cpu = ServerCpu(peer.process.proc.pid)
        all_cases = cases(data, small, args.files, share)
        print(
            f"big file {size:,} bytes; {args.files:,} files of {file_size:,} bytes;"
            f" repeat {args.repeat}; load average {os.getloadavg()[0]:.2f}"
        )
        for case in args.cases.split(","):
            results: dict[str, list[Figure]] = {client.name: [] for client in clients}
            for round_ in range(args.repeat):
                for client in clients:
                    action = all_cases[case](client, round_ == 0)
                    results[client.name].append(measure(action, server_cpu))
            moved = size if case in ("write", "read") else args.files * file_size
            report(case, moved, args.files if case.startswith("small") else 0, results)
        for client in clients:
            client.close()
    finally:
        peer.process.stop()
        shutil.rmtree(base, ignore_errors=True)
    print(f"load average at the end {os.getloadavg()[0]:.2f}")


def report(case: str, moved: int, files: int, results: dict[str, list[Figure]]) -> None:
    best = {name: min(figures, key=lambda f: f.wall) for name, figures in results.items()}
    base = best["syncapp"] if "syncapp" in best else next(iter(best.values()))
    for name, figure in best.items():
        rate = (
            f"{files / figure.wall:7.0f} files/s"
            if files
            else f"{moved / figure.wall / 1e6:7.0f} MB/s"
        )
        walls = ", ".join(f"{f.wall:.2f}" for f in results[name])
        print(
            f"{case:11} {name:18} {rate}  best {figure.wall:.3f} s, CPU {figure.cpu:.2f} s,"
            f" smbd CPU {figure.server_cpu:.2f} s  x syncapp: time {figure.wall / base.wall:.2f},"
            f" CPU {figure.cpu / base.cpu:.2f}  (runs: {walls} s)"
        )


if __name__ == "__main__":
    main()
