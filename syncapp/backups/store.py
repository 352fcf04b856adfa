"""ArchiveStore: backup archives on a storage Remote, with a JSON sidecar each and a database index.

Layout: `<TYPE>/<name>` and `<TYPE>/<name>.meta.json`. Uploads arrive in `.incoming/` under a name
that carries this host and process id, and are moved into place only once complete and checked,
so a crash leaves only debris that `clean_debris` can recognise as dead and remove.
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
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..errors import BadRequest, Conflict, InsufficientStorage, NotFound
from ..storage import Remote, RemoteError, RemoteFull, RemoteNotFound
from ..storage.base import is_dead_temp, owner_is_dead, owner_tag
from ..tenancy import install_owner_id
from ..timeutil import isoformat, parse_iso, utcnow
from ..uploads import Received, receive_into
from .models import ARCHIVE_TYPES, BackupArchive

log = logging.getLogger(__name__)

INCOMING = ".incoming"
SIDECAR_SUFFIX = ".meta.json"
GZIP_MAGIC = b"\x1f\x8b"
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,200}\.tar\.gz$")
PROFILE_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
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
    if "/" in name or "\\" in name or not NAME_PATTERN.match(name):
        raise BadRequest(
            f"Invalid archive name {name!r}: use letters, digits, '.', '_', '-' and '+', "
            "no folders, ending in .tar.gz.",
            code="invalid_name",
        )
    return name


def check_profile(value: str | None) -> str:
    profile = (value or "unknown").strip()
    if not PROFILE_PATTERN.match(profile):
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
        *,
        kind: str,
        profile: str,
        md5: str | None,
        uploader: str,
        uploader_id: int | None,
    ) -> CommitResult:
        """Move a staged upload into place, or explain why not; the staged file never lingers."""
        try:
            return self._commit(staged, kind, profile, md5, uploader, uploader_id)
        finally:
            if self.remote.stat(staged.path) is not None:
                self.discard(staged)

    def _commit(self, staged, kind, profile, md5, uploader, uploader_id) -> CommitResult:
        received = staged.received
        if md5 is not None and md5 != received.md5:
            raise BadRequest(
                f"MD5 mismatch: the client sent {md5}, the server received {received.md5}. "
                "Nothing was stored.",
                code="md5_mismatch",
                expected=md5,
                received=received.md5,
            )
        with _commit_lock:
            existing = self.get(kind, staged.name)
            if existing is not None:
                if existing.md5 == received.md5:
                    return CommitResult(existing, created=False)
                raise Conflict(
                    f"{kind}/{staged.name} exists with different content (MD5 {existing.md5}); "
                    "the stored archive is unchanged. Upload under a new name.",
                    code="archive_exists",
                    md5=existing.md5,
                )
            self._check_quota(profile, received.size)
            owner_id = uploader_id if uploader_id is not None else install_owner_id()
            archive = BackupArchive(
                owner_id=owner_id,
                path=f"{kind}/{staged.name}",
                type=kind,
                name=staged.name,
                profile=profile,
                size=received.size,
                md5=received.md5,
                sha256=received.sha256,
                uploaded_at=utcnow(),
                uploader=uploader,
                uploader_id=uploader_id,
                base_archive=self._latest_full(profile) if kind != "FULL" else None,
            )
            try:
                self.remote.move(staged.path, archive.path)
                self._write_sidecar(archive)
            except RemoteFull as exc:
                raise InsufficientStorage(f"The backup store is full: {exc}") from None
            self.session.add(archive)
            self.session.commit()
        log.info(
            "stored %s (%s, profile %s, %d bytes)", archive.path, archive.md5, profile, archive.size
        )
        return CommitResult(archive, created=True)

    def _check_quota(self, profile: str, size: int) -> None:
        if self.profile_quota is None:
            return
        # int(): PostgreSQL's SUM of a bigint is a numeric, which arrives as a Decimal.
        used = int(
            self.session.scalar(
                select(func.coalesce(func.sum(BackupArchive.size), 0)).where(
                    BackupArchive.profile == profile
                )
            )
        )
        if used + size > self.profile_quota:
            raise InsufficientStorage(
                f"Profile {profile!r} would use {human_size(used + size)}, over its quota of "
                f"{human_size(self.profile_quota)}.",
                code="quota_exceeded",
            )

    def _latest_full(self, profile: str) -> str | None:
        return self.session.scalar(
            select(BackupArchive.name)
            .where(BackupArchive.profile == profile, BackupArchive.type == "FULL")
            .order_by(BackupArchive.uploaded_at.desc(), BackupArchive.id.desc())
            .limit(1)
        )

    def _write_sidecar(self, archive: BackupArchive) -> None:
        body = json.dumps(archive.sidecar(), indent=2).encode()
        self.remote.write(archive.path + SIDECAR_SUFFIX, io.BytesIO(body), size=len(body))

    # --- reading ---------------------------------------------------------------------------------

    def get(self, kind: str, name: str) -> BackupArchive | None:
        return self.session.scalar(
            select(BackupArchive).where(BackupArchive.type == kind, BackupArchive.name == name)
        )

    def require(self, kind: str, name: str) -> BackupArchive:
        archive = self.get(parse_type(kind), name)
        if archive is None:
            raise NotFound(f"No {kind.upper()} backup named {name!r}.", code="backup_not_found")
        return archive

    def archives(
        self,
        kind: str | None = None,
        profile: str | None = None,
        since: datetime | None = None,
    ) -> list[BackupArchive]:
        query = select(BackupArchive).order_by(BackupArchive.uploaded_at, BackupArchive.id)
        if kind is not None:
            query = query.where(BackupArchive.type == kind)
        if profile is not None:
            query = query.where(BackupArchive.profile == profile)
        if since is not None:
            query = query.where(BackupArchive.uploaded_at >= since)
        return list(self.session.scalars(query))

    def full_names(self) -> set[str]:
        return set(
            self.session.scalars(select(BackupArchive.name).where(BackupArchive.type == "FULL"))
        )

    def delete(self, archive: BackupArchive) -> None:
        for path in (archive.path, archive.path + SIDECAR_SUFFIX):
            with contextlib.suppress(RemoteNotFound):
                self.remote.delete(path)
        self.session.delete(archive)
        self.session.commit()

    # --- recovery --------------------------------------------------------------------------------

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
        for kind in ARCHIVE_TYPES:
            for entry in self.remote.iter_entries(kind, include_temp=True):
                if is_dead_temp(entry.path):
                    self.remote.delete(entry.path)
                    removed.append(entry.path)
        if removed:
            log.info("removed %d piece(s) of interrupted uploads", len(removed))
        return removed

    def _is_dead_upload(self, path: str) -> bool:
        return is_dead_temp(path) or owner_is_dead(posixpath.basename(path))

    def reindex(self) -> int:
        """Rebuild the index from the sidecars (the truth); archives without one get one."""
        self.session.query(BackupArchive).delete()
        count = 0
        for kind in ARCHIVE_TYPES:
            entries = {e.path: e for e in self.remote.iter_entries(kind)}
            for path, entry in sorted(entries.items()):
                if path.endswith(SIDECAR_SUFFIX):
                    continue
                sidecar = self._read_sidecar(path + SIDECAR_SUFFIX)
                archive = self._from_sidecar(kind, path, entry, sidecar)
                if sidecar is None:
                    self._write_sidecar(archive)
                self.session.add(archive)
                count += 1
        self.session.commit()
        return count

    def _read_sidecar(self, path: str) -> dict | None:
        try:
            with self.remote.open_read(path) as reader:
                return json.loads(reader.read())
        except (RemoteNotFound, ValueError):
            return None

    def _from_sidecar(self, kind, path, entry, sidecar: dict | None) -> BackupArchive:
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
            owner_id=install_owner_id(),
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
    """Delete what the retention policy lets go; returns the deleted paths."""
    from .retention import expired

    deleted = []
    for archive in expired(store.archives(), policy):
        path = archive.path
        store.delete(archive)
        deleted.append(path)
    if deleted:
        log.info("retention removed %d archive(s): %s", len(deleted), ", ".join(deleted))
    return deleted
