"""SnapshotStore: versioned Cordiax database snapshots per user and device, on a storage Remote.

Layout under the store's root: `<user>/<device>/<version>.<db|zip|bin>` with a sidecar
`<version>.json`, the contents of a ZIP bundle in `<version>/`, and `latest.json`, rewritten
only after a snapshot is complete, so it always names a whole one. A push identical to any
stored version of the device creates nothing new (that version becomes the latest again).

A push is written payload, extracted members, sidecar, then its row: a process killed on the
way leaves a version without a row. `sweep_debris` finishes one whose sidecar was written (the
version is whole: its row is made from the sidecar, once the payload's SHA-256 agrees) and
removes the pieces of one that was not, once older than the sweep's threshold
(docs/architecture.md, "Debris").
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import posixpath
import re
import stat
import threading
import zipfile
import zlib
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, BinaryIO

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..auth.models import User
from ..quotas import register_usage
from ..storage import Entry, Remote, RemoteError, RemoteNotFound
from ..storage.base import is_stale_temp, is_temp
from ..timeutil import isoformat, parse_iso, utcnow
from .models import CordiaxSnapshot

log = logging.getLogger(__name__)

SQLITE_MAGIC = b"SQLite format 3\x00"
ZIP_MAGIC = b"PK\x03\x04"
#: Cordiax's encrypted database (modules/encryption.py): a 16-byte salt, then a Fernet token,
#: which is URL-safe base64 of a version byte 0x80 and a timestamp: it starts "gAAAAA"
FERNET_SALT = 16
FERNET_PREFIX = b"gAAAAA"
BASE64URL = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_="
EXTENSIONS = {"sqlite": "db", "zip": "zip", "encrypted": "bin"}
#: the Cordiax client's database file, at the top of its bundles
DATABASE_NAME = "cordiax.db"
#: used with fullmatch: `$` would also match before a final newline
DEVICE_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
#: a stored version's files: `<user>/<device>/<version>.<ext>`, its sidecar `<version>.json`,
#: a ZIP's members below `<version>/` (the version as `store` names it)
VERSION_FILE = re.compile(
    rf"(\d+)/({DEVICE_PATTERN.pattern})/(\d{{8}}T\d{{12}}Z_[0-9a-f]{{8}})(?:\.(db|zip|bin|json)|/.+)"
)


class SnapshotRefused(Exception):
    """A push that is not stored; `code` goes into sync_error / the API error."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Limits:
    max_size: int = 100 * 1024**2
    allow_plaintext: bool = True
    zip_max_files: int = 10_000
    zip_max_unpacked: int = 2 * 1024**3
    #: a member, or the whole archive, expanding more than this many times is treated as a bomb
    zip_max_ratio: int = 200


@dataclass
class _Pieces:
    """The files of one stored version, found by listing the store."""

    entries: list[Entry] = field(default_factory=list)
    payload: Entry | None = None
    sidecar: Entry | None = None

    def newest(self) -> datetime | None:
        times = [e.modified for e in self.entries]
        return None if None in times else max(times)  # type: ignore[type-var]


@dataclass(frozen=True)
class StoreResult:
    snapshot: CordiaxSnapshot
    created: bool


def check_device(name: object) -> str:
    if not isinstance(name, str) or not DEVICE_PATTERN.fullmatch(name):
        raise SnapshotRefused(
            "invalid_device",
            f"Invalid device name {name!r}: use up to 64 letters, digits, '.', '_' and '-'.",
        )
    return name


def _member_path(name: str) -> str:
    """A ZIP member's path, refusing anything that could land outside the version's folder."""
    normalised = name.replace("\\", "/")
    parts = normalised.split("/")
    if normalised.startswith("/") or re.match(r"^[A-Za-z]:", normalised) or ".." in parts:
        raise SnapshotRefused("unsafe_zip", f"The ZIP holds an unsafe path: {name!r}.")
    return "/".join(p for p in parts if p not in ("", "."))


def _expands_too_far(unpacked: int, packed: int, limits: Limits) -> bool:
    return unpacked > limits.zip_max_ratio * max(packed, 1)


def inspect_zip(data: bytes, limits: Limits) -> tuple[list[zipfile.ZipInfo], bool]:
    """Check a bundle before anything is written; returns its files and whether the database
    inside is encrypted (anything but plaintext SQLite)."""
    try:
        bundle = zipfile.ZipFile(io.BytesIO(data))
        members = bundle.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError) as exc:
        raise SnapshotRefused("bad_zip", f"The ZIP bundle is unreadable: {exc}.") from None
    files = [m for m in members if not m.is_dir()]
    if len(members) > limits.zip_max_files:
        raise SnapshotRefused(
            "zip_too_many_files",
            f"The ZIP holds {len(members)} entries; at most {limits.zip_max_files} are accepted.",
        )
    total = 0
    for member in members:
        _member_path(member.filename)
        if stat.S_ISLNK(member.external_attr >> 16):
            raise SnapshotRefused("unsafe_zip", f"The ZIP holds a link: {member.filename!r}.")
        total += member.file_size
        # Every member, small ones too: hundreds of 1 MiB members of zeros are a bomb as well.
        if _expands_too_far(member.file_size, member.compress_size, limits):
            raise SnapshotRefused("zip_bomb", f"{member.filename!r} expands suspiciously far.")
    if total > limits.zip_max_unpacked:
        raise SnapshotRefused("zip_too_large", "The ZIP expands beyond the accepted size.")
    # Members may share their compressed bytes (overlapping entries): each one's ratio looks
    # harmless while together they expand without bound.
    if _expands_too_far(total, len(data), limits):
        raise SnapshotRefused("zip_bomb", "The ZIP as a whole expands suspiciously far.")
    database = next((m for m in files if posixpath.basename(m.filename) == "cordiax.db"), None)
    encrypted = True
    if database is not None:
        # Reading the first bytes inflates a chunk: a member whose headers lie about its size
        # fails its CRC here already, and must be a refusal, not an unhandled error.
        try:
            with bundle.open(database) as handle:
                encrypted = handle.read(len(SQLITE_MAGIC)) != SQLITE_MAGIC
        except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as exc:
            raise SnapshotRefused("bad_zip", f"The ZIP bundle is damaged: {exc}.") from None
    return files, encrypted


def classify(data: bytes, limits: Limits) -> tuple[str, bool, list[zipfile.ZipInfo]]:
    """(kind, encrypted, zip members) of a payload, detected from its content."""
    if not data:
        raise SnapshotRefused("empty", "The snapshot is empty.")
    if len(data) > limits.max_size:
        raise SnapshotRefused(
            "too_large",
            f"The snapshot ({len(data)} bytes) exceeds the limit of {limits.max_size} bytes.",
        )
    if data.startswith(SQLITE_MAGIC):
        if not limits.allow_plaintext:
            raise SnapshotRefused(
                "plaintext_refused",
                "Unencrypted databases are not accepted here: enable encryption in Cordiax.",
            )
        return "sqlite", False, []
    if data.startswith(ZIP_MAGIC):
        members, encrypted = inspect_zip(data, limits)
        return "zip", encrypted, members
    if is_cordiax_encrypted(data):
        return "encrypted", True, []
    raise SnapshotRefused(
        "unknown_format",
        "The snapshot is neither a ZIP bundle, nor an SQLite database, nor a database "
        "encrypted by Cordiax (16-byte salt and a Fernet token); nothing was stored.",
    )


def is_cordiax_encrypted(data: bytes) -> bool:
    """Salt, then a whole Fernet token: every byte after the salt is URL-safe base64
    (bytes.translate runs in C: a 100 MB check costs a fraction of the hashing). The whole
    payload is filtered rather than a slice of it, which would copy it: what survives is
    exactly the salt's non-base64 bytes when the token is clean."""
    if not data.startswith(FERNET_PREFIX, FERNET_SALT):
        return False
    salt = data[:FERNET_SALT]
    return data.translate(None, BASE64URL) == salt.translate(None, BASE64URL)


class _Bounded(io.RawIOBase):
    """Reads a ZIP member, refusing more bytes than its header declared (lying headers)."""

    def __init__(self, stream: BinaryIO, limit: int, name: str) -> None:
        self._stream, self._left, self._name = stream, limit, name

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(size if size >= 0 else self._left + 1)
        self._left -= len(data)
        if self._left < 0:
            raise SnapshotRefused("zip_bomb", f"{self._name!r} is larger than its header says.")
        return data


class _Views(io.RawIOBase):
    """Reads `data` as views of it (no copy): for a store done with each read before the next
    (`Remote.reads_borrowed`)."""

    def __init__(self, data: bytes) -> None:
        self._view, self._at = memoryview(data), 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> memoryview:  # type: ignore[override]
        end = len(self._view) if size < 0 else min(self._at + size, len(self._view))
        piece, self._at = self._view[self._at : end], end
        return piece


_locks: dict[tuple[int, str], threading.Lock] = defaultdict(threading.Lock)
_locks_guard = threading.Lock()


def _device_lock(user_id: int, device: str) -> threading.Lock:
    with _locks_guard:
        return _locks[(user_id, device)]


#: quota(user_id, adding): raises SnapshotRefused when `adding` more bytes would not fit
QuotaCheck = Callable[[int, int], None]


class SnapshotStore:
    def __init__(
        self,
        remote: Remote,
        session: Session,
        limits: Limits | None = None,
        quota: QuotaCheck | None = None,
    ) -> None:
        self.remote = remote
        self.session = session
        self.limits = limits or Limits()
        self.quota = quota

    # --- storing ---------------------------------------------------------------------------------

    def store(
        self, user_id: int, device: str, data: bytes, source: str = "socketio"
    ) -> StoreResult:
        device = check_device(device)
        kind, encrypted, members = classify(data, self.limits)
        sha256 = hashlib.sha256(data).hexdigest()
        with _device_lock(user_id, device):
            existing = self._with_content(user_id, device, sha256)
            if existing is not None:
                return StoreResult(self._make_latest(existing), created=False)
            if self.quota is not None:
                # what this push puts on the disk: the payload and a ZIP's extracted copy
                self.quota(user_id, len(data) + sum(m.file_size for m in members))
            # End the read transaction: the writes below may take seconds (an S3 store, a big
            # ZIP), and a pooled connection held meanwhile starves other requests under load.
            self.session.commit()
            received_at = utcnow()
            version = f"{received_at:%Y%m%dT%H%M%S%f}Z_{sha256[:8]}"
            folder = f"{user_id}/{device}"
            snapshot = CordiaxSnapshot(
                user_id=user_id,
                device=device,
                version=version,
                sha256=sha256,
                size=len(data),
                kind=kind,
                encrypted=encrypted,
                source=source,
                received_at=received_at,
                path=f"{folder}/{version}.{EXTENSIONS[kind]}",
            )
            written: list[str] = []
            try:
                self._write_payload(snapshot.path, data)
                written.append(snapshot.path)
                if kind == "zip":
                    written += self._extract(data, members, f"{folder}/{version}")
                self._write_json(f"{folder}/{version}.json", self._sidecar(snapshot))
                written.append(f"{folder}/{version}.json")
                # The row before latest.json: a database that fails (or a crash) here leaves
                # latest.json naming the previous, whole version, never one without a row.
                self.session.add(snapshot)
                self.session.commit()
            except IntegrityError:
                # Another process stored the same content meanwhile (the unique constraint on
                # user, device and sha256): its copy stands, this one goes.
                self.session.rollback()
                self._remove(written)
                existing = self._with_content(user_id, device, sha256)
                if existing is None:
                    raise
                return StoreResult(self._make_latest(existing), created=False)
            except BaseException:
                self.session.rollback()
                self._remove(written)
                raise
            try:
                self._write_json(
                    f"{folder}/latest.json", {"version": version, "path": snapshot.path}
                )
            except BaseException:
                self.session.delete(snapshot)
                self.session.commit()
                self._remove(written)
                raise
        log.info(
            "snapshot %s/%s %s stored (%s, %d bytes)", user_id, device, version, kind, len(data),
            extra={"owner": user_id},
        )  # fmt: skip
        return StoreResult(snapshot, created=True)

    def _extract(self, data: bytes, members: list[zipfile.ZipInfo], folder: str) -> list[str]:
        written: list[str] = []
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as bundle:
                for member in members:
                    target = f"{folder}/{_member_path(member.filename)}"
                    with bundle.open(member) as handle:
                        reader = _Bounded(handle, member.file_size, member.filename)
                        self.remote.write(target, reader, size=member.file_size)  # type: ignore[arg-type]
                    written.append(target)
        except zipfile.BadZipFile as exc:  # e.g. a CRC error found while reading
            self._remove(written)
            raise SnapshotRefused("bad_zip", f"The ZIP bundle is damaged: {exc}.") from None
        except BaseException:
            self._remove(written)
            raise
        return written

    def _with_content(self, user_id: int, device: str, sha256: str) -> CordiaxSnapshot | None:
        """The device's version holding exactly these bytes, however old."""
        return self._one(user_id, device, CordiaxSnapshot.sha256 == sha256)

    def _one(self, user_id: int, device: str, criterion: Any) -> CordiaxSnapshot | None:
        return self.session.scalar(
            select(CordiaxSnapshot).where(
                CordiaxSnapshot.user_id == user_id, CordiaxSnapshot.device == device, criterion
            )
        )

    def _make_latest(self, snapshot: CordiaxSnapshot) -> CordiaxSnapshot:
        """A push equal to an older version (A, B, then A again) keeps no second copy: that
        version becomes the latest again, as the device's data now is."""
        latest = self.latest(snapshot.user_id, snapshot.device)
        if latest is not None and latest.id != snapshot.id:
            snapshot.received_at = utcnow()
            self.session.commit()
            self._write_json(
                f"{posixpath.dirname(snapshot.path)}/latest.json",
                {"version": snapshot.version, "path": snapshot.path},
            )
        return snapshot

    def _remove(self, paths: list[str]) -> None:
        for path in paths:
            try:
                self.remote.delete(path)
            except RemoteError:
                log.warning("could not remove %s after a failed snapshot", path)

    def _write_json(self, path: str, body: dict) -> None:
        data = json.dumps(body, indent=2).encode()
        self.remote.write(path, io.BytesIO(data), size=len(data), compute_md5=False)

    def _write_payload(self, path: str, data: bytes) -> None:
        """The pushed bytes, whose SHA-256 the snapshot keeps: the store's MD5 is not asked for
        (`compute_md5=False`: a local folder computes none, 10 % of a push's CPU; a backend that
        proves its transfers with it still does). A store that reads borrowed (a local folder)
        is given views of the payload, not a copy of each chunk."""
        stream = _Views(data) if self.remote.reads_borrowed else io.BytesIO(data)
        self.remote.write(path, stream, size=len(data), compute_md5=False)  # type: ignore[arg-type]

    @staticmethod
    def _sidecar(snapshot: CordiaxSnapshot) -> dict:
        return {
            "version": snapshot.version,
            "device": snapshot.device,
            "user_id": snapshot.user_id,
            "sha256": snapshot.sha256,
            "size": snapshot.size,
            "kind": snapshot.kind,
            "encrypted": snapshot.encrypted,
            "source": snapshot.source,
            "received_at": isoformat(snapshot.received_at),
        }

    # --- reading ---------------------------------------------------------------------------------

    def latest(self, user_id: int, device: str) -> CordiaxSnapshot | None:
        return self.session.scalar(
            select(CordiaxSnapshot)
            .where(CordiaxSnapshot.user_id == user_id, CordiaxSnapshot.device == device)
            .order_by(CordiaxSnapshot.received_at.desc(), CordiaxSnapshot.id.desc())
            .limit(1)
        )

    def versions(self, user_id: int, device: str) -> list[CordiaxSnapshot]:
        return list(
            self.session.scalars(
                select(CordiaxSnapshot)
                .where(CordiaxSnapshot.user_id == user_id, CordiaxSnapshot.device == device)
                .order_by(CordiaxSnapshot.received_at.desc(), CordiaxSnapshot.id.desc())
            )
        )

    def devices(self, user_id: int | None) -> dict[tuple[int, str], list[CordiaxSnapshot]]:
        query = select(CordiaxSnapshot).order_by(CordiaxSnapshot.received_at.desc())
        if user_id is not None:
            query = query.where(CordiaxSnapshot.user_id == user_id)
        found: dict[tuple[int, str], list[CordiaxSnapshot]] = defaultdict(list)
        for snapshot in self.session.scalars(query):
            found[(snapshot.user_id, snapshot.device)].append(snapshot)
        return dict(found)

    def get(self, user_id: int, device: str, version: str) -> CordiaxSnapshot | None:
        return self._one(user_id, device, CordiaxSnapshot.version == version)

    def delete(self, snapshot: CordiaxSnapshot) -> None:
        folder = posixpath.dirname(snapshot.path)
        paths = [snapshot.path, f"{folder}/{snapshot.version}.json"]
        if snapshot.kind == "zip":
            paths += [e.path for e in self.remote.iter_entries(f"{folder}/{snapshot.version}")]
        for path in paths:
            with contextlib.suppress(RemoteNotFound):
                self.remote.delete(path)
        user_id, device = snapshot.user_id, snapshot.device
        self.session.delete(snapshot)
        self.session.commit()
        latest = self.latest(user_id, device)
        if latest is None:
            with contextlib.suppress(RemoteNotFound):
                self.remote.delete(f"{folder}/latest.json")
        else:
            self._write_json(
                f"{folder}/latest.json", {"version": latest.version, "path": latest.path}
            )

    # --- debris ----------------------------------------------------------------------------------

    def sweep_debris(self, *, older_than: datetime) -> list[str]:
        """Finish or remove the versions killed pushes left without a row, whose newest file is
        older than `older_than` (a push in progress keeps writing new ones): a version whose
        sidecar was written is whole and gets its row; any other's files are removed. Stale temp
        files go too. Returns what was removed, and `adopted:<path>` for each version finished."""
        known = set(
            self.session.execute(
                select(CordiaxSnapshot.user_id, CordiaxSnapshot.device, CordiaxSnapshot.version)
            ).tuples()
        )
        self.session.commit()  # no transaction held while the store is listed (issue 18)
        done: list[str] = []
        versions: dict[tuple[int, str, str], _Pieces] = defaultdict(_Pieces)
        for entry in self.remote.iter_entries("", include_temp=True):
            if is_temp(entry.path):
                if is_stale_temp(entry, older_than):
                    self._remove([entry.path])
                    done.append(entry.path)
                continue
            found = VERSION_FILE.fullmatch(entry.path)
            if found is None:
                continue  # latest.json, or nothing of ours
            key = (int(found[1]), found[2], found[3])
            if key in known:
                continue
            pieces = versions[key]
            pieces.entries.append(entry)
            if found[4] == "json":
                pieces.sidecar = entry
            elif found[4] is not None:
                pieces.payload = entry
        for (user_id, device, version), pieces in sorted(versions.items()):
            newest = pieces.newest()
            if newest is None or newest >= older_than:
                continue  # a push may still be writing it
            with _device_lock(user_id, device):
                try:
                    snapshot = self._adopt(user_id, device, version, pieces)
                except RemoteError as exc:  # unreadable now: neither finished nor removed
                    log.warning("snapshot %s/%s %s not swept: %s", user_id, device, version, exc)
                    continue
                if snapshot is not None:
                    done.append(f"adopted:{snapshot.path}")
                    continue
                if self.get(user_id, device, version) is not None:
                    continue  # recorded meanwhile
                paths = [e.path for e in pieces.entries]
                self._remove(paths)
                done += paths
        if done:
            log.info("swept %d piece(s) of interrupted snapshot pushes", len(done))
        return done

    def _adopt(
        self, user_id: int, device: str, version: str, pieces: _Pieces
    ) -> CordiaxSnapshot | None:
        """The row of a whole version from its sidecar, if the sidecar and the payload agree (its
        size and SHA-256); None when they do not, or the device already has that content.
        RemoteError when the store cannot be read now."""
        if pieces.sidecar is None or pieces.payload is None:
            return None
        try:
            with self.remote.open_read(pieces.sidecar.path) as reader:
                sidecar = json.loads(reader.read())
        except ValueError:
            return None  # not a sidecar this store wrote whole
        digest = hashlib.sha256()
        with self.remote.open_read(pieces.payload.path) as reader:
            while chunk := reader.read(1024 * 1024):
                digest.update(chunk)
        kind = sidecar.get("kind") if isinstance(sidecar, dict) else None
        if (
            kind not in EXTENSIONS
            or pieces.payload.path != f"{user_id}/{device}/{version}.{EXTENSIONS[kind]}"
            or sidecar.get("version") != version
            or sidecar.get("size") != pieces.payload.size
            or sidecar.get("sha256") != digest.hexdigest()
            or self.session.get(User, user_id) is None
        ):
            self.session.rollback()
            return None
        snapshot = CordiaxSnapshot(
            user_id=user_id,
            device=device,
            version=version,
            sha256=sidecar["sha256"],
            size=sidecar["size"],
            kind=kind,
            encrypted=bool(sidecar.get("encrypted")),
            source=str(sidecar.get("source") or "socketio")[:64],
            received_at=parse_iso(sidecar.get("received_at")) or pieces.payload.modified,
            path=pieces.payload.path,
        )
        self.session.add(snapshot)
        try:
            self.session.commit()
        except IntegrityError:  # the device has this content already (a retried push): a copy
            self.session.rollback()
            return None
        latest = self.latest(user_id, device)
        newest = latest is not None and latest.id == snapshot.id
        path = snapshot.path
        self.session.commit()  # the rows are read: none held while the store answers
        if newest:
            self._write_json(f"{user_id}/{device}/latest.json", {"version": version, "path": path})
        log.info("snapshot %s/%s %s finished from its sidecar", user_id, device, version)
        return snapshot

    # --- restoring: a version as the original cordiax.db or as a ZIP ---------------------------

    def database_path(self, snapshot: CordiaxSnapshot) -> str | None:
        """Where the version's `cordiax.db` lies: the snapshot itself when it is a database
        (plaintext or encrypted by Cordiax, byte for byte the client's file), or the copy
        extracted from a ZIP bundle (the shallowest `cordiax.db` in it); None when a bundle
        holds none."""
        if snapshot.kind != "zip":
            return snapshot.path
        folder = f"{posixpath.dirname(snapshot.path)}/{snapshot.version}"
        found = [
            e.path
            for e in self.remote.iter_entries(folder)
            if posixpath.basename(e.path) == DATABASE_NAME
        ]
        return min(found, key=lambda p: (p.count("/"), p)) if found else None

    def as_zip(self, snapshot: CordiaxSnapshot) -> bytes:
        """The version as a ZIP: a bundle as it was pushed, or a database put into one as the
        Cordiax client makes its bundles (`cordiax.db` at the top). The stored bytes are
        checked against the SHA-256 recorded at the push: a damaged copy is never handed on."""
        with self.remote.open_read(snapshot.path) as reader:
            data = reader.read()
        if hashlib.sha256(data).hexdigest() != snapshot.sha256:
            raise SnapshotRefused(
                "snapshot_corrupt",
                f"The stored copy of version {snapshot.version} does not match the SHA-256 "
                "recorded when it was pushed: it is damaged.",
            )
        if snapshot.kind == "zip":
            return data
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as bundle:
            info = zipfile.ZipInfo(DATABASE_NAME, date_time=snapshot.received_at.timetuple()[:6])
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o600 << 16
            bundle.writestr(info, data)
        return out.getvalue()

    def apply_retention(self, keep_last: int, keep_daily_days: int) -> list[str]:
        """Keep the newest `keep_last` versions per device plus the newest of each of the
        last `keep_daily_days` days; the latest version is always kept."""
        now = utcnow()
        removed = []
        for snapshots in self.devices(None).values():
            keep = {s.id for s in snapshots[: max(keep_last, 1)]}
            days_seen = set()
            for snapshot in snapshots:
                day = snapshot.received_at.date()
                if (
                    now - snapshot.received_at <= timedelta(days=keep_daily_days)
                    and day not in days_seen
                ):
                    keep.add(snapshot.id)
                    days_seen.add(day)
            for snapshot in snapshots:
                if snapshot.id not in keep:
                    removed.append(snapshot.path)
                    self.delete(snapshot)
        return removed


def snapshot_usage(session: Session, user_id: int) -> int:
    """Bytes of the snapshots `user_id` keeps (as pushed; see docs/security.md on ZIPs)."""
    return session.scalar(
        select(func.coalesce(func.sum(CordiaxSnapshot.size), 0)).where(
            CordiaxSnapshot.user_id == user_id
        )
    )


register_usage("cordiax", snapshot_usage)
