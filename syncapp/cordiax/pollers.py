"""Share pollers: import the file a Cordiax client in WebDAV or SMB mode keeps overwriting.

The client writes `<remote_path>/cordiax_sync.zip` (or `.db`) on a share; a poller looks at it
every `interval` seconds and stores it as a new snapshot of its device when it changed. Cheap
checks come first (the entry's etag or mtime with its size, which needs no download), then the
content hash, so a client that rewrites identical bytes creates no new version.

`poll` takes plain callables for the source Remote and the SnapshotStore; cordiax/wiring.py
builds them from the stored remote and the app's settings (`poll_now`, `run_due_pollers`).
"""

from __future__ import annotations

import hashlib
import io
import logging
import posixpath
import re
import threading
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from ..storage import Entry, Remote, RemoteError, RemoteNotFound
from ..storage.base import CHUNK_SIZE, clean_path
from ..timeutil import isoformat, utcnow
from .models import CordiaxPoller
from .snapshots import SnapshotRefused, SnapshotStore

log = logging.getLogger(__name__)

#: storage kinds a Cordiax client can write to (local: a share mounted on this server)
SOURCE_KINDS = ("webdav", "smb", "local")
DEFAULT_PATH = "cordiax_sync"
DEFAULT_FILENAME = "cordiax_sync.zip"
DEFAULT_INTERVAL = 300
MIN_INTERVAL = 60  # seed 002: "El intervalo mínimo de sincronización es de 60 segundos"

NO_FILE = "no file yet"
UNCHANGED = "unchanged"
UNCHANGED_CONTENT = "unchanged content"
BEING_WRITTEN = "file still being written"
ERROR = "error"


class PollError(Exception):
    """A poll that cannot import the file for a reason worth showing as last_error."""


@dataclass(frozen=True)
class ConnectionCheck:
    success: bool
    message: str


def default_device(name: str) -> str:
    """A valid device name (snapshots.DEVICE_PATTERN) made from a poller's name."""
    device = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-._")[:64].rstrip("-._")
    return device or "poller"


def normalise_folder(path: str | None) -> str:
    """The client's "/cordiax_sync/" style to a path relative to the remote's root."""
    return clean_path(path or "")


def file_path(poller: CordiaxPoller) -> str:
    return clean_path(posixpath.join(poller.path or "", poller.filename))


def marker_of(entry: Entry) -> str | None:
    """What identifies a version of the file without reading it; None when the service tells
    neither an etag nor an mtime (then only the content hash decides)."""
    stamp = entry.etag or (isoformat(entry.modified) if entry.modified else None)
    if stamp is None:
        return None
    marker = f"{stamp}|{entry.size}"
    if len(marker) > 255:  # the column's width; a long etag still identifies by its hash
        marker = hashlib.sha256(marker.encode()).hexdigest()
    return marker


def is_due(poller: CordiaxPoller, now: datetime) -> bool:
    if not poller.enabled:
        return False
    return poller.last_run is None or (now - poller.last_run).total_seconds() >= poller.interval


# --- one poll ----------------------------------------------------------------------------------


def _read(remote: Remote, rel: str, limit: int) -> tuple[bytes, str]:
    """The file's bytes and SHA-256, refusing more than `limit` bytes even if the stat lied."""
    digest = hashlib.sha256()
    buffer = io.BytesIO()
    with remote.open_read(rel) as reader:
        while chunk := reader.read(CHUNK_SIZE):
            if buffer.tell() + len(chunk) > limit:
                raise PollError(_too_large(rel, None, limit))
            digest.update(chunk)
            buffer.write(chunk)
    return buffer.getvalue(), digest.hexdigest()


def _too_large(rel: str, size: int | None, limit: int) -> str:
    told = f" ({size} bytes)" if size is not None else ""
    return (
        f"{rel}{told} is larger than cordiax.max_snapshot_size ({limit} bytes); it is not imported"
    )


def check_file(poller: CordiaxPoller, remote: Remote, store: SnapshotStore) -> str:
    """Look at the poller's file once and import it if it changed; returns the result text and
    updates the poller's marker and hash (not committed). Raises RemoteError, SnapshotRefused
    or PollError."""
    rel = file_path(poller)
    before = remote.stat(rel)
    if before is None:
        return NO_FILE
    marker = marker_of(before)
    if marker is not None and marker == poller.seen_marker:
        return UNCHANGED
    limit = store.limits.max_size
    if before.size > limit:
        raise PollError(_too_large(rel, before.size, limit))
    try:
        data, sha256 = _read(remote, rel, limit)
    except RemoteNotFound:  # replaced or removed between the stat and the read
        return BEING_WRITTEN
    after = remote.stat(rel)
    if after is None or marker_of(after) != marker or after.size != len(data):
        # The client is still writing (or replaced the file meanwhile): what was read may be
        # a torn copy. The next poll sees a settled file.
        return BEING_WRITTEN
    if sha256 == poller.seen_sha256:
        poller.seen_marker = marker
        return UNCHANGED_CONTENT
    stored = store.store(poller.user_id, poller.device, data, source=f"poller:{poller.id}")
    poller.seen_marker, poller.seen_sha256 = marker, sha256
    if not stored.created:  # identical to the device's latest version (e.g. pushed by Socket.IO)
        return UNCHANGED_CONTENT
    return f"imported {stored.snapshot.version}"


_poll_locks: dict[int, threading.Lock] = defaultdict(threading.Lock)
_poll_locks_guard = threading.Lock()


def _poll_lock(poller_id: int) -> threading.Lock:
    with _poll_locks_guard:
        return _poll_locks[poller_id]


def _describe_error(exc: Exception) -> str:
    if isinstance(exc, SnapshotRefused):
        return f"the file was refused ({exc.code}): {exc.message}"
    if isinstance(exc, RemoteError | PollError):
        return str(exc) or type(exc).__name__
    if isinstance(getattr(exc, "message", None), str):  # the app's DomainError, e.g. remote gone
        return exc.message  # type: ignore[attr-defined]
    return f"internal error ({type(exc).__name__}); see the server log"


def release(session: Session, poller: CordiaxPoller) -> None:
    """Detach the (loaded) poller and end the transaction before the share is read: a share
    that stalls must not hold a pooled connection (issue 18). The detached poller keeps its
    values, so reading them loads nothing; `session.add` takes it back with its changes."""
    session.expunge(poller)
    session.commit()


def poll(
    poller: CordiaxPoller,
    *,
    open_source: Callable[[], Remote],
    open_store: Callable[[], SnapshotStore],
    session: Session,
    notify: Callable[[CordiaxPoller, str | None], None] | None = None,
) -> CordiaxPoller:
    """Poll once and record last_run, last_result and last_error; never raises.

    The source Remote is opened for this poll and closed after it, so a server that was down
    at the last poll is simply connected to afresh.
    """
    with _poll_lock(poller.id):
        # A poll that waited for another one (scheduler and "run now") must see its marker:
        # end the transaction that loaded the poller, then load it afresh.
        session.commit()
        session.refresh(poller)
        started = utcnow()
        owned = {"owner": poller.user_id}  # what is logged is the poller's owner's (logs.py)
        version: str | None = None
        poller_id, name = poller.id, poller.name
        try:
            store = open_store()
            with open_source() as remote:
                release(session, poller)
                result = check_file(poller, remote, store)
            error = None
            if result.startswith("imported "):
                version = result.removeprefix("imported ")
        except Exception as exc:  # recorded on the poller: a poll must never break its caller
            session.rollback()
            if isinstance(exc, RemoteError | PollError | SnapshotRefused):
                log.warning("poller %s (%s): %s", poller_id, name, exc, extra=owned)
            else:
                log.exception("poller %s (%s) failed", poller_id, name, extra=owned)
            result, error = ERROR, _describe_error(exc)
        if poller not in session:
            session.add(poller)  # back from release: what the poll changed on it is written
        poller.last_run = started
        poller.last_result = result[:255]
        poller.last_error = error
        session.commit()
        if version:
            log.info(
                "poller %s imported %s/%s %s", poller.id, poller.user_id, poller.device, version,
                extra=owned,
            )  # fmt: skip
        if notify is not None:
            notify(poller, version)
    return poller


def check_connection(remote: Remote, poller: CordiaxPoller) -> ConnectionCheck:
    """Read-only: the poller must never write into the client's folder. Stats the file, else
    lists the folder, which proves the address, the credentials and the path."""
    rel = file_path(poller)
    where = remote.describe()
    try:
        entry = remote.stat(rel)
        if entry is not None:
            modified = isoformat(entry.modified) if entry.modified else "unknown time"
            return ConnectionCheck(
                True, f"{where}: found {rel} ({entry.size} bytes, modified {modified})"
            )
        folder = normalise_folder(poller.path)
        others = next(iter(remote.iter_entries(folder)), None) is not None
    except RemoteError as exc:
        message = str(exc)  # a named remote's errors name it already (remotes/named.py)
        return ConnectionCheck(
            False, message if message.startswith(where) else f"{where}: {message}"
        )
    if others:
        return ConnectionCheck(
            True, f"{where}: connected; {folder or '/'} holds files but no {poller.filename} yet"
        )
    return ConnectionCheck(
        True,
        f"{where}: connected; no {rel} yet (the folder is empty or missing until the Cordiax "
        "client syncs)",
    )
