"""CloudStore: the users' cloud files and each kept version, on the feature's Remote.

An upload streams into a staging name while it is counted and hashed (refused past `max_size`
or past what its owner's quota leaves, nothing kept). Only then can it be told whether it is a
new file, a new version, or the content the current version already has. A version's bytes live
at `<owner>/<file id>/v<n>-<safe name>`; the name the user gave is kept in the database for
display and download. Every kept version counts towards its owner's quota, checked again before
a new one is recorded.

A process killed mid-upload leaves a staging file (or a write's temp file), and one killed
between placing a version's bytes and committing its row leaves a version file no row names:
`sweep_debris` removes both once older than the sweep's threshold (docs/architecture.md,
"Debris"). What a killed replication leaves in a cloud is `debris.py`'s.
"""

from __future__ import annotations

import contextlib
import logging
import re
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from ..failures import BadRequest, Conflict, InsufficientStorage, NotFound, ServiceUnavailable
from ..quotas import hold_quota, register_usage, within_quota
from ..storage import Remote, RemoteError, RemoteFull, RemoteNotFound
from ..storage.base import TEMP_PREFIX, Entry, is_stale_temp, is_temp, sweep
from ..timeutil import utcnow
from ..uploads import clean_filename, receive_into
from .models import CloudConflict, CloudCopy, CloudFile, CloudVersion
from .targets import TargetUnavailable

log = logging.getLogger(__name__)

STAGING = ".staging"
#: a concurrent upload of the same name can take the number (or the new file's row) first
RECORD_ATTEMPTS = 5
_UNSAFE = re.compile(r"[^\w.\- ]+")
BUSY_COPIES = ("pending", "running")
#: a version's bytes, as `_record_once` names them: anything else in the store is not ours
VERSION_PATH = re.compile(r"\d+/\d+/v\d+-[^/]+")

OpenCloud = Callable[[str, int], Remote]


def display_name(filename: str | None) -> str:
    """The user's file name without folders or control characters: it also names the cloud
    copies, so names that no storage can hold are refused."""
    name = clean_filename(filename)
    if name in (".", "..") or name.startswith(TEMP_PREFIX):
        raise BadRequest(f"The file name {name!r} cannot be stored.", code="invalid_filename")
    return name


def safe_name(filename: str) -> str:
    """The name's stand-in on disk: letters, digits, dots, dashes and spaces only."""
    return _UNSAFE.sub("_", filename).lstrip(". ")[:120] or "file"


@dataclass(frozen=True)
class Staged:
    """An upload received in full, not yet a version of anything."""

    path: str
    filename: str
    content_type: str
    size: int
    md5: str


@dataclass(frozen=True)
class Outcome:
    file: CloudFile
    version: CloudVersion
    #: False: the content was the current version's already, nothing new was stored
    created: bool


class CloudStore:
    def __init__(
        self, remote: Remote, session: Session, *, max_size: int, keep_versions: int
    ) -> None:
        self.remote = remote
        self.session = session
        self.max_size = max_size
        self.keep_versions = max(1, keep_versions)

    # -- receiving ------------------------------------------------------------------------------

    def receive(
        self, owner_id: int, chunks: Iterable[bytes], filename: str | None, content_type: str | None
    ) -> Staged:
        name = display_name(filename)
        path = f"{STAGING}/{owner_id}/{uuid.uuid4().hex}"
        counted = within_quota(self.session, owner_id, chunks)
        try:
            received = receive_into(self.remote, path, counted, limit=self.max_size)
        except RemoteFull as exc:
            raise InsufficientStorage(f"The cloud file store is full: {exc}") from None
        kind = (content_type or "application/octet-stream")[:127]
        return Staged(path, name, kind, received.size, received.md5)

    def discard(self, staged: Staged) -> None:
        with contextlib.suppress(RemoteNotFound):
            self.remote.delete(staged.path)

    def commit(self, owner_id: int, staged: Staged, origin: str = "upload") -> Outcome:
        """Make the staged upload a file's new version (or recognise it as the current one).
        The staging copy is gone afterwards, whatever happens."""
        try:
            outcome = self._record(owner_id, staged, origin)
            if outcome.created:
                self._place(staged, outcome.version)
        except BaseException:
            self.session.rollback()
            self.discard(staged)
            raise
        if outcome.created:
            self.prune(outcome.file)
        else:
            self.discard(staged)
        return outcome

    def _record(self, owner_id: int, staged: Staged, origin: str) -> Outcome:
        """The rows of the new version, flushed, not committed: the flush holds the new number
        (unique per file) so that no other upload can place bytes at the same path."""
        for _ in range(RECORD_ATTEMPTS):
            try:
                return self._record_once(owner_id, staged, origin)
            except IntegrityError:
                self.session.rollback()
        raise Conflict(
            f"{staged.filename} is being uploaded by several clients at once; try again.",
            code="upload_busy",
        )

    def _record_once(self, owner_id: int, staged: Staged, origin: str) -> Outcome:
        now = utcnow()
        file = self.session.scalar(
            select(CloudFile).where(
                CloudFile.owner_id == owner_id, CloudFile.filename == staged.filename
            )
        )
        if file is None:
            file = CloudFile(
                owner_id=owner_id,
                filename=staged.filename,
                content_type=staged.content_type,
                current_version=0,
                created_at=now,
            )
            self.session.add(file)
            self.session.flush()
        else:
            current = self.current(file)
            if current.md5 == staged.md5 and current.size == staged.size:
                return Outcome(file, current, created=False)
        hold_quota(self.session, owner_id, staged.size)  # a new version: its bytes count
        number = max([file.current_version, *(v.number for v in file.versions)]) + 1
        version = CloudVersion(
            file_id=file.id,
            number=number,
            size=staged.size,
            md5=staged.md5,
            stored_path=f"{owner_id}/{file.id}/v{number}-{safe_name(staged.filename)}",
            modified_at=now,
            created_at=now,
            origin=origin,
        )
        self.session.add(version)
        file.current_version, file.updated_at = number, now
        file.content_type = staged.content_type
        self.session.flush()
        return Outcome(file, version, created=True)

    def _place(self, staged: Staged, version: CloudVersion) -> None:
        self.remote.move(staged.path, version.stored_path)
        try:
            self.session.commit()
        except BaseException:
            with contextlib.suppress(RemoteError):
                self.remote.delete(version.stored_path)
            raise

    def restore_version(self, file: CloudFile, number: int) -> Outcome:
        """Make version `number`'s bytes the file's current content again, as a new version on
        top (the history stays whole, and clouds that follow the file get it like an upload).
        The bytes are copied through a staging name with the MD5 recorded for that version, so
        a damaged stored copy is refused (ChecksumMismatch) instead of becoming current. Restoring
        the current content makes nothing new (`created` False)."""
        old = self.version(file, number)
        current = self.current(file)
        if old.md5 == current.md5 and old.size == current.size:
            return Outcome(file, current, created=False)
        staged = Staged(
            f"{STAGING}/{file.owner_id}/{uuid.uuid4().hex}",
            file.filename,
            file.content_type,
            old.size,
            old.md5,
        )
        # the copy may take a while (a big file, a remote store): no transaction held meanwhile
        self.session.commit()
        try:
            with self.remote.open_read(old.stored_path) as reader:
                self.remote.write(staged.path, reader, size=old.size, md5=old.md5)
        except RemoteNotFound:
            raise NotFound(
                f"Version {number} of {file.filename} is missing from the store.",
                code="version_missing",
            ) from None
        except RemoteFull as exc:
            raise InsufficientStorage(f"The cloud file store is full: {exc}") from None
        return self.commit(file.owner_id, staged, origin=f"restore-v{number}")

    # -- reading --------------------------------------------------------------------------------

    def get(self, file_id: int, *, owner_id: int | None) -> CloudFile:
        """The file, if `owner_id` owns it (None: anyone's); else 404, so that other users'
        files cannot even be told to exist."""
        file = self.session.get(CloudFile, file_id)
        if file is not None and owner_id in (None, file.owner_id):
            return file
        raise NotFound(f"File {file_id} not found.", code="file_not_found")

    def current(self, file: CloudFile) -> CloudVersion:
        return self.version(file, file.current_version)

    def version(self, file: CloudFile, number: int) -> CloudVersion:
        for version in file.versions:
            if version.number == number:
                return version
        raise NotFound(f"{file.filename} has no version {number}.", code="version_not_found")

    def search(
        self,
        *,
        owner_id: int | None,
        limit: int,
        offset: int,
        order: Sequence[Any] | None = None,
    ) -> tuple[list[CloudFile], int]:
        """One page of files; `order` (ORDER BY clauses) replaces the default newest first."""
        owned = [] if owner_id is None else [CloudFile.owner_id == owner_id]
        total = self.session.scalar(select(func.count(CloudFile.id)).where(*owned)) or 0
        page = (
            select(CloudFile)
            .where(*owned)
            .order_by(*(order or (CloudFile.updated_at.desc(), CloudFile.id.desc())))
            .options(selectinload(CloudFile.versions), selectinload(CloudFile.copies))
            .limit(limit)
            .offset(offset)
        )
        return list(self.session.scalars(page)), total

    # -- removing -------------------------------------------------------------------------------

    def prune(self, file: CloudFile) -> None:
        """Keep the newest `keep_versions` versions. Never removed: the current one, one a cloud
        copy is still on its way to, one an open conflict compares against."""
        needed = {file.current_version}
        needed |= {c.wanted_version for c in file.copies if c.status in BUSY_COPIES}
        needed |= set(
            self.session.scalars(
                select(CloudConflict.local_version).where(
                    CloudConflict.file_id == file.id, CloudConflict.resolved.is_(False)
                )
            )
        )
        newest_first = sorted(file.versions, key=lambda v: v.number, reverse=True)
        for version in newest_first[self.keep_versions :]:
            if version.number in needed:
                continue
            try:
                with contextlib.suppress(RemoteNotFound):
                    self.remote.delete(version.stored_path)
            except RemoteError as exc:  # its row stays, so the next upload tries again
                log.warning("cannot remove old version %s: %s", version.stored_path, exc)
                continue
            self.session.delete(version)
        self.session.commit()

    def delete(self, file: CloudFile, *, open_cloud: OpenCloud | None) -> None:
        """Every cloud copy (unless `open_cloud` is None), then every version, then the rows.

        A cloud that cannot be reached stops the deletion before anything local is touched
        (503): the file stays whole and listed, and deleting again finishes the job. Only the
        copies already removed from the other clouds are forgotten meanwhile.
        """
        if open_cloud is not None:
            self._delete_copies(file, open_cloud)
        # The current version goes last: while the file is listed, its current version exists.
        versions = sorted(file.versions, key=lambda v: v.number == file.current_version)
        for version in versions:
            try:
                with contextlib.suppress(RemoteNotFound):
                    self.remote.delete(version.stored_path)
            except RemoteError as exc:
                self.session.commit()
                raise ServiceUnavailable(
                    f"The cloud file store cannot remove {file.filename} now: {exc}",
                    code="store_unavailable",
                ) from None
            self.session.delete(version)
        self.session.delete(file)
        self.session.commit()

    # -- debris ---------------------------------------------------------------------------------

    def sweep_debris(self, *, older_than: datetime) -> list[str]:
        """Remove what killed uploads left, last modified before `older_than` (an upload in
        progress writes its staging file, and a version's bytes are placed just before its row
        is committed, so neither is that old): staging files, stale temp files, and version
        files no row names. With no version row at all the table is not this store's index (a
        new database over an old store) and version files are left alone."""
        known = set(self.session.scalars(select(CloudVersion.stored_path)))
        self.session.commit()  # no transaction held while the store is listed (issue 18)

        def is_debris(entry: Entry) -> bool:
            old = entry.modified is not None and entry.modified < older_than
            if is_temp(entry.path):
                return is_stale_temp(entry, older_than)
            if entry.path.startswith(f"{STAGING}/"):
                return old  # staging names carry no process: only their age tells
            return (
                old
                and bool(known)
                and entry.path not in known
                and VERSION_PATH.fullmatch(entry.path) is not None
            )

        removed = sweep(self.remote, is_debris, what="cloud upload debris")
        if removed:
            log.info("removed %d piece(s) of interrupted cloud uploads", len(removed))
        return removed

    def _delete_copies(self, file: CloudFile, open_cloud: OpenCloud) -> None:
        failures = []
        for copy in list(file.copies):
            try:
                with open_cloud(copy.target, file.owner_id) as cloud:
                    cloud.delete(copy.remote_path)
            except RemoteNotFound:
                pass
            except (TargetUnavailable, RemoteError) as exc:
                if _may_hold_bytes(copy):
                    failures.append(f"{copy.target}: {exc}")
                    continue
            self.session.delete(copy)
        self.session.commit()
        if failures:
            raise ServiceUnavailable(
                f"{file.filename} was not deleted: its copy could not be removed from "
                f"{'; '.join(failures)}. Nothing local was removed; try again later, or delete "
                "with keep_cloud_copies=true to leave those copies in the cloud.",
                code="cloud_unavailable",
            )


def cloud_usage(session: Session, user_id: int) -> int:
    """Bytes of every version `user_id` keeps here (their cloud copies are not counted)."""
    total = (
        select(func.coalesce(func.sum(CloudVersion.size), 0))
        .join(CloudFile, CloudFile.id == CloudVersion.file_id)
        .where(CloudFile.owner_id == user_id)
    )
    return session.scalar(total) or 0


register_usage("cloud", cloud_usage)


def _may_hold_bytes(copy: CloudCopy) -> bool:
    """Writes to a cloud are atomic: a copy that never completed and is not being written has
    left nothing there, so an unreachable cloud does not have to block its deletion."""
    return copy.synced_version is not None or copy.status == "running"
