#!/usr/bin/env python3
"""Push a Cordiax database to syncapp the way the Cordiax desktop client does.

    scripts/cordiax_push.py [--url URL] [--token TOKEN] [--device NAME]
                            [--watch] [--timeout SECONDS] FILE|DIR

FILE is a cordiax.db (plain or encrypted) or a ready .zip bundle; DIR is a Cordiax data folder,
sent as a ZIP bundle built in memory from its cordiax.db, documentos/ and pdfs/ (nothing else:
the folder also holds sync_config.json, whose passwords must not travel).

Like an unmodified client it connects to the Socket.IO namespace /cordiax-sync/ with the token
and the device in the URL's query (`?token=...&device=...`), waits for the server's
`sync_request`, emits `sync_data` {"data": "<hex>"} and waits for `sync_ack` or `sync_error`.
--watch keeps the connection open, pushes again on every reconnection (the server asks with
`sync_request`) and whenever the file's modification time or size changes (checked every second,
pushed once it has held still for a second). Ctrl-C ends it.

Environment: SYNCAPP_URL (default http://localhost:5000) and SYNCAPP_TOKEN stand in for --url
and --token, so that the token need not show in `ps`.

Exit status: 0 stored (or already stored), 1 refused by the server (sync_error, a wrong token),
2 server unreachable or no answer within --timeout, 64 usage error, 66 unreadable FILE|DIR,
69 python-socketio missing (a system python3 in a syncapp
checkout runs it again with the checkout's .venv; elsewhere install python-socketio[client]).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import queue
import re
import signal
import sys
import time
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

try:
    import socketio
except ImportError:  # a system python3: run again with the checkout's venv, which has it
    _venv = Path(__file__).resolve().parent.parent / ".venv" / "bin" / "python"
    if _venv.exists() and not os.environ.get("CORDIAX_PUSH_REEXEC"):
        os.environ["CORDIAX_PUSH_REEXEC"] = "1"  # once: a venv without it ends up below
        os.execv(str(_venv), [str(_venv), str(Path(__file__).resolve()), *sys.argv[1:]])
    sys.stderr.write(
        f"{Path(sys.argv[0]).name}: python-socketio is needed and {sys.executable} lacks it:\n"
        "  python3 -m pip install --user 'python-socketio[client]' websocket-client\n"
        "or run it from a syncapp checkout (scripts/serve creates its .venv).\n"
    )
    sys.exit(69)

NAMESPACE = "/cordiax-sync/"
BUNDLE_DATABASE = "cordiax.db"
BUNDLE_FOLDERS = ("documentos", "pdfs")
POLL_INTERVAL = 1.0
# syncapp refuses a ZIP member over 1 MiB that expands more than 200 times (a "bomb"); a mostly
# empty database deflates further than that, so such members travel uncompressed.
MAX_DEFLATE_RATIO = 100

EXIT_OK, EXIT_REFUSED, EXIT_UNREACHABLE, EXIT_USAGE, EXIT_NOINPUT = 0, 1, 2, 64, 66


class InputError(Exception):
    """FILE|DIR cannot be read or is not a Cordiax database / data folder."""


# -- what is pushed ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Payload:
    data: bytes
    sha256: str
    description: str

    @classmethod
    def of(cls, data: bytes, description: str) -> Payload:
        return cls(data, hashlib.sha256(data).hexdigest(), description)


def bundle_files(folder: Path) -> Iterator[tuple[str, Path]]:
    """(name in the ZIP, file) for what the bundle carries, in a stable order."""
    database = folder / BUNDLE_DATABASE
    if not database.is_file():
        raise InputError(f"{folder} holds no {BUNDLE_DATABASE}: not a Cordiax data folder")
    yield BUNDLE_DATABASE, database
    for name in BUNDLE_FOLDERS:
        root = folder / name
        if root.is_dir():
            for path in sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink()):
                yield path.relative_to(folder).as_posix(), path


def build_bundle(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        for name, path in bundle_files(folder):
            data = path.read_bytes()
            method = zipfile.ZIP_DEFLATED
            if len(data) > 1024**2 and len(data) > MAX_DEFLATE_RATIO * len(zlib.compress(data, 1)):
                method = zipfile.ZIP_STORED
            info = zipfile.ZipInfo.from_file(path, name, strict_timestamps=False)
            bundle.writestr(info, data, compress_type=method)
    return buffer.getvalue()


def read_payload(source: Path) -> Payload:
    try:
        if source.is_dir():
            data = build_bundle(source)
            return Payload.of(data, f"{source} (ZIP bundle, {len(data)} bytes)")
        data = source.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {source}: {exc.strerror or exc}") from None
    return Payload.of(data, f"{source} ({len(data)} bytes)")


def signature(source: Path) -> tuple | None:
    """What --watch compares between polls: modification time and size of every pushed file."""
    try:
        if source.is_dir():
            return tuple(
                (name, path.stat().st_mtime_ns, path.stat().st_size)
                for name, path in bundle_files(source)
            )
        info = source.stat()
        return (info.st_mtime_ns, info.st_size)
    except (OSError, InputError):
        return None  # mid-replace (editors, Cordiax's own rewrite): look again next poll


# -- the connection ---------------------------------------------------------------------------


def connection_url(url: str, token: str | None, device: str | None) -> str:
    """The server URL with token and device added to whatever query it already carries."""
    if "://" not in url:
        url = f"http://{url}"
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    if token:
        query["token"] = token
    if device:
        query["device"] = device
    return urlunsplit(parts._replace(query=urlencode(query)))


def shown(url: str) -> str:
    """The URL without its query: the token must not reach the terminal or a log."""
    return urlunsplit(urlsplit(url)._replace(query="", fragment=""))


class Connection:
    """One Socket.IO client on the namespace; every server event lands in one queue, in order."""

    def __init__(self, namespace: str, timeout: float, reconnection: bool) -> None:
        self.namespace = namespace
        self.events: queue.Queue[tuple[str, Any]] = queue.Queue()
        # handle_sigint=False: Ctrl-C reaches main() as KeyboardInterrupt, which disconnects.
        self.sio = socketio.Client(
            reconnection=reconnection, handle_sigint=False, request_timeout=max(timeout, 5)
        )
        for name in ("connect", "connect_error", "disconnect"):
            self.sio.on(name, self._recorder(name), namespace=namespace)
        for name in ("sync_request", "sync_ack", "sync_error"):
            self.sio.on(name, self._recorder(name), namespace=namespace)

    def _recorder(self, name: str):
        def record(*args: Any) -> None:
            self.events.put((name, args[0] if args else None))

        return record

    def connect(self, url: str, timeout: float) -> None:
        self.sio.connect(url, namespaces=[self.namespace], wait_timeout=timeout)

    def next_event(self, timeout: float) -> tuple[str, Any] | None:
        try:
            return self.events.get(timeout=max(timeout, 0))
        except queue.Empty:
            return None

    def push(self, payload: Payload, hex_cache: dict[str, str]) -> bool:
        """Emit sync_data; False when the connection is down (a reconnection pushes anyway)."""
        if payload.sha256 not in hex_cache:
            hex_cache.clear()
            hex_cache[payload.sha256] = payload.data.hex()
        try:
            self.sio.emit(
                "sync_data", {"data": hex_cache[payload.sha256]}, namespace=self.namespace
            )
        except socketio.exceptions.SocketIOError:
            return False
        return True

    def close(self) -> None:
        self.sio.disconnect()


# -- reporting --------------------------------------------------------------------------------


def say(message: str) -> None:
    print(message, flush=True)


def complain(message: str) -> None:
    print(f"cordiax_push: {message}", file=sys.stderr, flush=True)


def describe_ack(ack: dict) -> str:
    stored = "new" if ack.get("created", True) else "unchanged"
    encrypted = "yes" if ack.get("encrypted") else "no"
    return (
        f"sync_ack: version={ack.get('version')} sha256={ack.get('sha256')} "
        f"size={ack.get('size')} kind={ack.get('kind')} encrypted={encrypted} stored={stored}"
    )


def describe_error(error: Any) -> str:
    if isinstance(error, dict):
        return f"sync_error: {error.get('error', 'error')}: {error.get('message', '')}".rstrip()
    return f"sync_error: {error!r}"


def check_ack(ack: Any, payload: Payload) -> bool:
    if not isinstance(ack, dict) or ack.get("sha256") != payload.sha256:
        complain(
            f"the server acknowledged sha256 {ack.get('sha256') if isinstance(ack, dict) else ack}"
            f" but {payload.sha256} was sent"
        )
        return False
    return True


# -- one push ---------------------------------------------------------------------------------


def wait_for(connection: Connection, names: set[str], deadline: float) -> tuple[str, Any] | None:
    while True:
        event = connection.next_event(deadline - time.monotonic())
        if event is None or event[0] in names:
            return event


def open_connection(connection: Connection, url: str, timeout: float) -> int | None:
    """Connect; an exit status when that failed."""
    try:
        connection.connect(url, timeout)
    except socketio.exceptions.ConnectionError as exc:
        if "namespaces failed" in str(exc):  # refused by the server's connect handler
            refusal = next(
                (data for name, data in iter_queue(connection) if name == "connect_error"), exc
            )
            complain(f"refused by {shown(url)}: {refusal}")
            return EXIT_REFUSED
        complain(f"cannot reach {shown(url)}: {short_reason(exc)}")
        return EXIT_UNREACHABLE
    return None


def short_reason(exc: Exception) -> str:
    """requests' nested message reduced to its cause, e.g. "Connection refused"."""
    text = str(exc)
    found = re.search(r"\[Errno -?\d+\] ([^\"')]+)", text)
    return found.group(1).strip() if found else text


def iter_queue(connection: Connection) -> Iterator[tuple[str, Any]]:
    while (event := connection.next_event(0)) is not None:
        yield event


def push_once(url: str, payload: Payload, namespace: str, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    connection = Connection(namespace, timeout, reconnection=False)
    failed = open_connection(connection, url, timeout)
    if failed is not None:
        return failed
    try:
        # The server asks with sync_request once it has accepted the token, or says sync_error.
        event = wait_for(connection, {"sync_request", "sync_error", "disconnect"}, deadline)
        if event is not None and event[0] == "sync_request":
            connection.push(payload, {})
            event = wait_for(connection, {"sync_ack", "sync_error", "disconnect"}, deadline)
        return report_answer(event, payload, timeout)
    finally:
        connection.close()


def report_answer(event: tuple[str, Any] | None, payload: Payload, timeout: float) -> int:
    if event is None:
        complain(f"no answer from the server within {timeout:g} s")
        return EXIT_UNREACHABLE
    name, data = event
    if name == "sync_ack":
        say(describe_ack(data))
        return EXIT_OK if check_ack(data, payload) else EXIT_REFUSED
    if name == "sync_error":
        complain(describe_error(data))
        return EXIT_REFUSED
    complain("the server closed the connection before answering")
    return EXIT_UNREACHABLE


# -- --watch ----------------------------------------------------------------------------------


class Watcher:
    """Keeps one connection open; pushes on every sync_request and on every settled change."""

    def __init__(self, source: Path, payload: Payload, connection: Connection) -> None:
        self.source = source
        self.payload = payload
        self.connection = connection
        self.seen = signature(source)
        self.candidate: tuple | None = None
        self.pushed_sha: str | None = None
        self.hex_cache: dict[str, str] = {}
        self.refused = False

    def run(self) -> int:
        next_poll = time.monotonic() + POLL_INTERVAL
        while True:
            event = self.connection.next_event(next_poll - time.monotonic())
            if event is not None:
                status = self.handle(*event)
                if status is not None:
                    return status
                continue
            next_poll = time.monotonic() + POLL_INTERVAL
            self.poll()

    def push(self) -> None:
        if self.connection.push(self.payload, self.hex_cache):
            self.pushed_sha = self.payload.sha256
            say(f"pushing {self.payload.description}")

    def handle(self, name: str, data: Any) -> int | None:
        if name == "sync_request":
            self.push()
        elif name == "sync_ack":
            say(describe_ack(data))
        elif name == "sync_error":
            complain(describe_error(data))
            self.refused = True
        elif name == "connect":
            say("connected")
        elif name == "disconnect":
            if data == socketio.Client.reason.SERVER_DISCONNECT:
                complain("the server closed the connection")
                return EXIT_REFUSED if self.refused else EXIT_UNREACHABLE
            say(f"disconnected ({data}); reconnecting")
        return None

    def poll(self) -> None:
        """Push once a change has held still for one poll (a half-written file is not sent)."""
        current = signature(self.source)
        if current is None or current == self.seen:
            self.candidate = None
            return
        if current != self.candidate:
            self.candidate = current
            return
        self.seen, self.candidate = current, None
        try:
            payload = read_payload(self.source)
        except InputError as exc:
            complain(str(exc))
            return
        if payload.sha256 != self.pushed_sha:
            self.payload = payload
            self.push()


def watch(url: str, source: Path, payload: Payload, namespace: str, timeout: float) -> int:
    connection = Connection(namespace, timeout, reconnection=True)
    failed = open_connection(connection, url, timeout)
    if failed is not None:
        return failed
    say(f"watching {source} (Ctrl-C to stop)")
    try:
        return Watcher(source, payload, connection).run()
    finally:
        connection.close()


# -- command line -----------------------------------------------------------------------------


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # argparse's own status 2 would read as "server unreachable"
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = Parser(
        prog="cordiax_push.py",
        description="Push a Cordiax database (FILE) or data folder (DIR) to syncapp over "
        "Socket.IO, as the Cordiax client does.",
        epilog="Exit status: 0 stored, 1 refused, 2 unreachable or timed out, 64 usage, "
        "66 unreadable input.",
    )
    parser.add_argument("path", type=Path, metavar="FILE|DIR")
    parser.add_argument(
        "--url",
        default=os.environ.get("SYNCAPP_URL", "http://localhost:5000"),
        help="server URL, may carry ?token=...&device=... (default: $SYNCAPP_URL or "
        "http://localhost:5000)",
    )
    parser.add_argument(
        "--token", default=os.environ.get("SYNCAPP_TOKEN"), help="API token ($SYNCAPP_TOKEN)"
    )
    parser.add_argument(
        "--device", help="device name (default: the server names it after the token)"
    )
    parser.add_argument("--watch", action="store_true", help="push again on every change")
    parser.add_argument(
        "--timeout",
        type=float,
        default=120.0,
        help="seconds to wait for the connection and the answer (default: 120)",
    )
    parser.add_argument("--namespace", default=NAMESPACE, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.timeout <= 0:
        parser.error("--timeout must be positive")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # SIGTERM (systemd, kill) ends --watch as cleanly as Ctrl-C.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        payload = read_payload(args.path)
    except InputError as exc:
        complain(str(exc))
        return EXIT_NOINPUT
    url = connection_url(args.url, args.token, args.device)
    try:
        if args.watch:
            return watch(url, args.path, payload, args.namespace, args.timeout)
        return push_once(url, payload, args.namespace, args.timeout)
    except KeyboardInterrupt:
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
