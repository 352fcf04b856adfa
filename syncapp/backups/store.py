"""ArchiveStore: backup archives on a storage Remote, with a JSON sidecar each and a database index.

Every archive belongs to one user, its owner, and each owner's archives are a namespace of their
own (`Namespace`): the same name may be stored for two owners, and nobody's upload, list, verify
or download reaches another owner's. Layout: the server's first administrator
(tenancy.install_owner_id, the one-user install's owner) keeps the seed's `<TYPE>/<name>`; every
other owner `users/<owner id>/<TYPE>/<name>`; beside each archive `<name>.meta.json`, which
records the owner. The index row stores the path, so an archive stays where it was put even when
the server's first administrator changes. Uploads arrive in `.incoming/` under a name that
carries this host and process id, and are moved into place only once complete and checked, so a
crash leaves only debris that `clean_debris` can recognise as dead and remove.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import posixpath
import re
import threading
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from ..auth.models import User
from ..errors import BadRequest, Conflict, InsufficientStorage, NotFound
from ..quotas import check_quota, register_usage
from ..storage import Entry, Remote, RemoteError, RemoteFull, RemoteNotFound
from ..storage.base import is_dead_temp, owner_is_dead, owner_tag
from ..tenancy import find_user_by_ref, install_owner_id
from ..timeutil import isoformat, parse_iso, utcnow
from ..uploads import Received, receive_into
from .models import ARCHIVE_TYPES, BackupArchive

log = logging.getLogger(__name__)

INCOMING = ".incoming"
SIDECAR_SUFFIX = ".meta.json"
GZIP_MAGIC = b"\x1f\x8b"
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,200}\.tar\.gz")
PROFILE_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
#: where other owners' archives lie: users/<owner id>/<TYPE>/<name>
OWNERS_FOLDER = "users"
#: a stored archive's path: the seed's layout, or an owner's folder
ARCHIVE_PATH = re.compile(rf"(?:{OWNERS_FOLDER}/(\d+)/)?(FULL|INC|DIFF)/([^/]+)")
_commit_lock = threading.Lock()  # one commit at a time per process; the unique index guards hosts


def human_size(size: float) -> str:
    """As the original server printed sizes: 1024-based, one decimal, e.g. "12.0 KB"."""
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024.0:
            return f"{size:.1f} {unit}"
        size /= 1024.0
    return f"{size:.1f} TB"


def parse_type(value: str | None) -> str:
    kind = (value or "FULL").strip().upper()
    if kind not in ARCHIVE_TYPES:
        raise BadRequest(
            f"Invalid backup type {value!r}: use FULL, INC or DIFF.", code="invalid_type"
        )
    return kind


def check_name(name: str | None) -> str:
    if not name:
        raise BadRequest("No file was sent: use -F 'file=@archive.tar.gz'.", code="no_file")
    # fullmatch: `$` would let a final newline through, and such a name breaks every header
    if "/" in name or "\\" in name or not NAME_PATTERN.fullmatch(name):
        raise BadRequest(
            f"Invalid archive name {name!r}: use letters, digits, '.', '_', '-' and '+', "
            "no folders, ending in .tar.gz.",
            code="invalid_name",
        )
    return name


def check_profile(value: str | None) -> str:
    profile = (value or "unknown").strip()
    if not PROFILE_PATTERN.fullmatch(profile):
        raise BadRequest(
            f"Invalid profile {value!r}: use up to 64 letters, digits, '.', '_' and '-'.",
            code="invalid_profile",
        )
    return profile


def check_md5(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    md5 = value.strip().lower()
    if not re.fullmatch(r"[0-9a-f]{32}", md5):
        raise BadRequest(f"Invalid md5 {value!r}: expected 32 hex digits.", code="invalid_md5")
    return md5


def _check_gzip(head: bytes) -> None:
    if head[:2] != GZIP_MAGIC:
        raise BadRequest("The file is not a gzip archive (.tar.gz expected).", code="not_gzip")


@dataclass(frozen=True)
class Namespace:
    """Whose archives a request reaches: one owner's, narrowed to some profiles when the
    caller's token is bound to them (tenancy.scoped_names)."""

    owner_id: int
    profiles: frozenset[str] | None = None

    def shows(self, archive: BackupArchive) -> bool:
        return archive.owner_id == self.owner_id and (
            self.profiles is None or archive.profile in self.profiles
        )


def within(query: Select, namespace: Namespace | None) -> Select:
    """`query` narrowed to `namespace`; None is everyone's (administrators' pages, retention)."""
    if namespace is None:
        return query
    query = query.where(BackupArchive.owner_id == namespace.owner_id)
    if namespace.profiles is not None:
        query = query.where(BackupArchive.profile.in_(namespace.profiles))
    return query


def owner_folder(owner_id: int) -> str:
    return f"{OWNERS_FOLDER}/{owner_id}"


def stored_bytes(session: Session, user_id: int) -> int:
    """What `user_id` keeps in backups, for the per-user quota (quotas.py)."""
    query = select(func.coalesce(func.sum(BackupArchive.size), 0))
    # int(): PostgreSQL's SUM of a bigint is a numeric, which arrives as a Decimal.
    return int(session.scalar(query.where(BackupArchive.owner_id == user_id)))


register_usage("backups", stored_bytes)


@dataclass(frozen=True)
class Staged:
    """An upload that arrived completely in `.incoming/` and awaits its checks."""

    path: str
    name: str
    received: Received


@dataclass(frozen=True)
class CommitResult:
    archive: BackupArchive
    created: bool


class ArchiveStore:
    def __init__(
        self,
        remote: Remote,
        session: Session,
        *,
        max_size: int,
        profile_quota: int | None = None,
    ) -> None:
        self.remote = remote
        self.session = session
        self.max_size = max_size
        self.profile_quota = profile_quota

    # --- receiving -------------------------------------------------------------------------------

    def receive(self, chunks: Iterable[bytes], filename: str | None) -> Staged:
        """Stream an archive into `.incoming/`: gzip and size checked on the way."""
        name = check_name(filename)
        path = f"{INCOMING}/{owner_tag()}.{uuid.uuid4().hex}.tar.gz"
        try:
            received = receive_into(
                self.remote, path, chunks, limit=self.max_size, check_head=_check_gzip
            )
        except RemoteFull as exc:
            raise InsufficientStorage(f"The backup store is full: {exc}") from None
        return Staged(path=path, name=name, received=received)

    def discard(self, staged: Staged) -> None:
        with contextlib.suppress(RemoteNotFound):
            self.remote.delete(staged.path)

    def commit(
        self,
        staged: Staged,
        namespace: Namespace,
        *,
        kind: str,
        profile: str,
        md5: str | None,
        uploader: str,
        uploader_id: int | None,
    ) -> CommitResult:
        """Move a staged upload into `namespace`, or explain why not; the staged file never
        lingers."""
        try:
            return self._commit(staged, namespace, kind, profile, md5, uploader, uploader_id)
        finally:
            self.session.rollback()  # what is left is reads: no transaction while the store answers
            if self.remote.stat(staged.path) is not None:
                self.discard(staged)

    def _commit(
        self, staged, namespace: Namespace, kind, profile, md5, uploader, uploader_id
    ) -> CommitResult:
        received = staged.received
        if md5 is not None and md5 != received.md5:
            raise BadRequest(
                f"MD5 mismatch: the client sent {md5}, the server received {received.md5}. "
                "Nothing was stored.",
                code="md5_mismatch",
                expected=md5,
                received=received.md5,
            )
        owner_id = namespace.owner_id
        with _commit_lock:
            existing = self.get(owner_id, kind, staged.name)
            if existing is not None:
                return self._same_as(existing, namespace, received.md5)
            self._check_quota(owner_id, profile, received.size)
            seed_free = self._seed_free(owner_id, kind, staged.name)
            base = self._latest_full(owner_id, profile) if kind != "FULL" else None
            owner = self.session.get(User, owner_id)
            email = owner.email if owner else None
            # The rows are read: end the transaction, so that the store (a remote that may stall)
            # is reached with no database connection held (issue 18)
            self.session.commit()
            archive = BackupArchive(
                owner_id=owner_id,
                path=self._place(owner_id, kind, staged.name, seed_free),
                type=kind,
                name=staged.name,
                profile=profile,
                size=received.size,
                md5=received.md5,
                sha256=received.sha256,
                uploaded_at=utcnow(),
                uploader=uploader,
                uploader_id=uploader_id,
                base_archive=base,
            )
            try:
                self.remote.move(staged.path, archive.path)
                self._write_sidecar(archive, email)
            except RemoteFull as exc:
                raise InsufficientStorage(f"The backup store is full: {exc}") from None
            self.session.add(archive)
            self.session.commit()
        log.info(
            "stored %s (%s, profile %s, %d bytes)", archive.path, archive.md5, profile, archive.size
        )
        return CommitResult(archive, created=True)

    @staticmethod
    def _same_as(existing: BackupArchive, namespace: Namespace, md5: str) -> CommitResult:
        """An upload of a name the owner already has: the same bytes again are fine."""
        where = f"{existing.type}/{existing.name}"
        if not namespace.shows(existing):  # another profile of the owner, beyond this token
            raise Conflict(
                f"{where} exists in a profile this token cannot reach; nothing was stored.",
                code="archive_exists",
            )
        if existing.md5 == md5:
            return CommitResult(existing, created=False)
        raise Conflict(
            f"{where} exists with different content (MD5 {existing.md5}); "
            "the stored archive is unchanged. Upload under a new name.",
            code="archive_exists",
            md5=existing.md5,
        )

    def _seed_free(self, owner_id: int, kind: str, name: str) -> bool:
        """Whether the database lets the archive have the seed's `<TYPE>/<name>`: the install
        owner's, where no archive row lies (the store is asked by `_place`)."""
        if owner_id != install_owner_id():
            return False
        seed = f"{kind}/{name}"
        return (
            self.session.scalar(select(BackupArchive.id).where(BackupArchive.path == seed)) is None
        )

    def _place(self, owner_id: int, kind: str, name: str, seed_free: bool) -> str:
        """The seed's `<TYPE>/<name>` for the install owner, unless an archive of an earlier one
        lies there; `users/<owner id>/<TYPE>/<name>` for everyone else."""
        seed = f"{kind}/{name}"
        if seed_free and self.remote.stat(seed) is None:
            return seed
        return f"{owner_folder(owner_id)}/{seed}"

    def _check_quota(self, owner_id: int, profile: str, size: int) -> None:
        """`backups.profile_quota` per (owner, profile), then the owner's quota across features."""
        if self.profile_quota is not None:
            used = int(
                self.session.scalar(
                    select(func.coalesce(func.sum(BackupArchive.size), 0)).where(
                        BackupArchive.owner_id == owner_id, BackupArchive.profile == profile
                    )
                )
            )
            if used + size > self.profile_quota:
                raise InsufficientStorage(
                    f"Profile {profile!r} would use {human_size(used + size)}, over its quota of "
                    f"{human_size(self.profile_quota)}.",
                    code="quota_exceeded",
                )
        check_quota(self.session, owner_id, size)

    def _latest_full(self, owner_id: int, profile: str) -> str | None:
        return self.session.scalar(
            select(BackupArchive.name)
            .where(
                BackupArchive.owner_id == owner_id,
                BackupArchive.profile == profile,
                BackupArchive.type == "FULL",
            )
            .order_by(BackupArchive.uploaded_at.desc(), BackupArchive.id.desc())
            .limit(1)
        )

    def _write_sidecar(self, archive: BackupArchive, owner_email: str | None) -> None:
        body = json.dumps(archive.sidecar(owner_email), indent=2).encode()
        self.remote.write(archive.path + SIDECAR_SUFFIX, io.BytesIO(body), size=len(body))

    # --- reading ---------------------------------------------------------------------------------

    def get(self, owner_id: int, kind: str, name: str) -> BackupArchive | None:
        return self.session.scalar(
            select(BackupArchive).where(
                BackupArchive.owner_id == owner_id,
                BackupArchive.type == kind,
                BackupArchive.name == name,
            )
        )

    def require(self, namespace: Namespace, kind: str, name: str) -> BackupArchive:
        """The archive, or 404 alike whether it does not exist or is not the caller's."""
        archive = self.get(namespace.owner_id, parse_type(kind), name)
        if archive is None or not namespace.shows(archive):
            raise NotFound(f"No {kind.upper()} backup named {name!r}.", code="backup_not_found")
        return archive

    def archives(
        self,
        namespace: Namespace | None,
        kind: str | None = None,
        profile: str | None = None,
        since: datetime | None = None,
    ) -> list[BackupArchive]:
        """`namespace`'s archives (everyone's for None), oldest first."""
        query = select(BackupArchive).order_by(BackupArchive.uploaded_at, BackupArchive.id)
        query = within(query, namespace)
        if kind is not None:
            query = query.where(BackupArchive.type == kind)
        if profile is not None:
            query = query.where(BackupArchive.profile == profile)
        if since is not None:
            query = query.where(BackupArchive.uploaded_at >= since)
        return list(self.session.scalars(query))

    def full_names(self, owner_id: int | None) -> set[tuple[int, str]]:
        """(owner, name) of the FULL archives stored: an INC or DIFF builds on its owner's."""
        query = select(BackupArchive.owner_id, BackupArchive.name).where(
            BackupArchive.type == "FULL"
        )
        if owner_id is not None:
            query = query.where(BackupArchive.owner_id == owner_id)
        return {(owner, name) for owner, name in self.session.execute(query)}

    def delete(self, archive: BackupArchive) -> None:
        paths = (archive.path, archive.path + SIDECAR_SUFFIX)
        self.session.commit()  # reads only: no transaction is held while the store answers
        for path in paths:
            with contextlib.suppress(RemoteNotFound):
                self.remote.delete(path)
        self.session.delete(archive)
        self.session.commit()

    # --- recovery --------------------------------------------------------------------------------

    def _stored_entries(self, *, include_temp: bool = False) -> Iterator[Entry]:
        """Every file of the archive folders: the seed's and the owners'."""
        for prefix in (*ARCHIVE_TYPES, OWNERS_FOLDER):
            yield from self.remote.iter_entries(prefix, include_temp=include_temp)

    def has_files(self) -> bool:
        return any(True for _ in self._stored_entries())

    def clean_debris(self) -> list[str]:
        """Remove uploads interrupted by a crash: staged files of dead processes, and temp files."""
        removed = []
        for entry in self.remote.iter_entries(INCOMING, include_temp=True):
            if self._is_dead_upload(entry.path):
                try:
                    self.remote.delete(entry.path)
                    removed.append(entry.path)
                except RemoteError as exc:
                    log.warning("could not remove upload debris %s: %s", entry.path, exc)
        for entry in self._stored_entries(include_temp=True):
            if is_dead_temp(entry.path):
                self.remote.delete(entry.path)
                removed.append(entry.path)
        if removed:
            log.info("removed %d piece(s) of interrupted uploads", len(removed))
        return removed

    def _is_dead_upload(self, path: str) -> bool:
        return is_dead_temp(path) or owner_is_dead(posixpath.basename(path))

    def reindex(self) -> int:
        """Rebuild the index from the sidecars (the truth); archives without one get one.
        Files that are no archive of the layout, or that nobody can own, stay untouched."""
        self.session.query(BackupArchive).delete()
        count, seen = 0, set()
        entries = {e.path: e for e in self._stored_entries()}
        for path, entry in sorted(entries.items()):
            if path.endswith(SIDECAR_SUFFIX):
                continue
            found = ARCHIVE_PATH.fullmatch(path)
            if found is None or not NAME_PATTERN.fullmatch(found[3]):
                log.warning("reindex: %s is not an archive of the store's layout; left alone", path)
                continue
            sidecar = self._read_sidecar(path + SIDECAR_SUFFIX)
            owner_id = self._owner_of(sidecar, int(found[1]) if found[1] else None)
            key = (owner_id, found[2], found[3])
            if owner_id is None or key in seen:
                log.warning("reindex: %s has no owner or repeats a name; left alone", path)
                continue
            seen.add(key)
            archive = self._from_sidecar(owner_id, found[2], path, entry, sidecar)
            if sidecar is None:
                owner = self.session.get(User, owner_id)
                self._write_sidecar(archive, owner.email if owner else None)
            self.session.add(archive)
            count += 1
        self.session.commit()
        return count

    def _read_sidecar(self, path: str) -> dict | None:
        try:
            with self.remote.open_read(path) as reader:
                sidecar = json.loads(reader.read())
        except (RemoteNotFound, ValueError):
            return None
        return sidecar if isinstance(sidecar, dict) else None

    def _owner_of(self, sidecar: dict | None, path_owner: int | None) -> int | None:
        """Who owns a stored archive: the owner its sidecar records (by email, which outlives a
        rebuilt database's ids), else the owner folder it lies in, else (sidecars written before
        owners existed) its uploader, else the install owner."""
        sidecar = sidecar or {}
        recorded = sidecar.get("owner")
        if isinstance(recorded, dict):
            ref = recorded.get("email") or str(recorded.get("id") or "")
            user = find_user_by_ref(ref) if ref else None
            return user.id if user is not None else install_owner_id()
        if path_owner is not None and self.session.get(User, path_owner) is not None:
            return path_owner
        uploader = sidecar.get("uploader")
        user = find_user_by_ref(uploader) if isinstance(uploader, str) and uploader else None
        return user.id if user is not None else install_owner_id()

    def _from_sidecar(
        self, owner_id: int, kind: str, path: str, entry: Entry, sidecar: dict | None
    ) -> BackupArchive:
        name = path.rsplit("/", 1)[-1]
        if sidecar is None or sidecar.get("size") != entry.size:
            # No trustworthy sidecar: hash the archive once to describe it honestly.
            received = self._hash(path)
            sidecar = {
                "profile": "unknown",
                "md5": received[0],
                "sha256": received[1],
                "uploaded_at": isoformat(entry.modified or utcnow()),
                **(
                    {}
                    if sidecar is None
                    else {k: sidecar.get(k) for k in ("profile", "uploader", "base_archive")}
                ),
            }
        return BackupArchive(
            owner_id=owner_id,
            path=path,
            type=kind,
            name=name,
            profile=sidecar.get("profile") or "unknown",
            size=entry.size,
            md5=sidecar["md5"],
            sha256=sidecar.get("sha256") or "",
            uploaded_at=parse_iso(sidecar.get("uploaded_at")) or entry.modified or utcnow(),
            uploader=sidecar.get("uploader") or "",
            base_archive=sidecar.get("base_archive"),
        )

    def _hash(self, path: str) -> tuple[str, str]:
        import hashlib

        md5, sha = hashlib.md5(), hashlib.sha256()
        with self.remote.open_read(path) as reader:
            while chunk := reader.read(1024 * 1024):
                md5.update(chunk)
                sha.update(chunk)
        return md5.hexdigest(), sha.hexdigest()


def apply_retention(store: ArchiveStore, policy) -> list[str]:
    """Delete what the retention policy lets go, judging each owner's profiles apart; returns
    the deleted paths."""
    from .retention import expired

    deleted = []
    for archive in expired(store.archives(None), policy):
        path = archive.path
        store.delete(archive)
        deleted.append(path)
    if deleted:
        log.info("retention removed %d archive(s): %s", len(deleted), ", ".join(deleted))
    return deleted
