"""NasSync: copies documents to the NAS in `<YYYY>/<MM>/<type folder>/<file>` (seed 001).

The NAS is either a mounted folder (NAS_MOUNT_PATH) or a stored remote (NAS_REMOTE, e.g. an SMB
share reached with pysmb). A mount path counts only when it really is the NAS: a mount point, or a
folder holding the `.syncapp-nas` marker (which lives on the share, so it vanishes with an
unmount). Otherwise nothing is written: an empty mount point is a folder of the local disk.

A document is marked synced only after `copy_verified` proved its copy; a different file already
at the target name is never overwritten (the document then gets `<stem>-<id><ext>`).
"""

from __future__ import annotations

import hashlib
import logging
import os
import posixpath
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..storage import (
    ChecksumMismatch,
    Remote,
    RemoteError,
    RemoteFull,
    RemoteNotFound,
    RemoteUnavailable,
)
from ..storage.base import CHUNK_SIZE, TEMP_PREFIX
from ..storage.local import LocalRemote
from ..storage.mounts import MARKER, holds_share, mark_share
from ..timeutil import isoformat, utcnow
from ..transfer import RetryPolicy, copy_verified
from .models import Document

log = logging.getLogger(__name__)

FOLDER_NAMES = {
    "en": {"receipt": "receipts", "invoice": "invoices", "payslip": "salaries", "other": "others"},
    "fr": {"receipt": "tickets", "invoice": "factures", "payslip": "salaires", "other": "autres"},
}

# Seed 001's messages, word for word.
NOT_CONFIGURED = "NAS mount not configured. Define NAS_MOUNT_PATH and mount the SMB share."
PATH_MISSING = "Mount path does not exist: {path}"
NOT_WRITABLE = "Mount is not writable"
ACCESSIBLE = "NAS mount accessible for read/write"
SYNCED_TO = "Synchronized to {path}"
SOURCE_MISSING = "Source file not found"
DISK_FULL = "Disk space: NAS full, free up space"
# Ours, where the seed has none.
NOT_MOUNTED = (
    "Mount path is not a mount point and holds no {marker} marker: {path}. Mount the SMB share "
    "there (files written now would land on the local disk)."
)
UNKNOWN_REMOTE = "NAS_REMOTE names an unknown stored remote: {name}"
UNREACHABLE = "NAS remote unreachable: {error}"
NOT_ATTEMPTED = "not attempted, the NAS stopped answering"

_UNSAFE = re.compile(r'[\x00-\x1f<>:"/\\|?*]')  # not allowed in SMB / Windows names
_run_lock = threading.Lock()  # one sync at a time per process: two runs would race for names


class NasNotConfigured(Exception):
    """The NAS target cannot be used; the message says why."""


class DocumentSyncError(Exception):
    """One document could not be synced; `fatal` when the target itself failed."""

    def __init__(self, message: str, *, fatal: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.fatal = fatal


@dataclass
class TargetState:
    """What /config reports (seed 001's fields) plus why the target is not usable."""

    configured: bool
    host: str
    path: str | None
    path_defined: bool
    path_exists: bool
    path_writable: bool
    mounted: bool
    message: str | None

    def config_reply(self) -> dict:
        return {
            "configured": self.configured,
            "nas_host": self.configured,  # legacy fields: true when configured, as the seed says
            "nas_user": self.configured,
            "nas_path": self.path_defined,
            "host": self.host,
            "path": self.path,
            "path_exists": self.path_exists,
            "path_writable": self.path_writable,
            "mounted": self.mounted,
            "message": self.message,
        }


@dataclass
class RunResult:
    total: int = 0
    synced: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)


class MountTarget:
    """A folder where the NAS share is mounted."""

    def __init__(self, path: str) -> None:
        self.path = os.path.abspath(path)

    def _is_nas(self) -> bool:
        return holds_share(self.path)

    def check(self, *, probe: bool = False) -> TargetState:
        exists = os.path.isdir(self.path)
        mounted = exists and os.path.ismount(self.path)
        is_nas = exists and self._is_nas()
        writable = exists and os.access(self.path, os.W_OK)
        if is_nas and writable and probe:
            writable = LocalRemote(root=self.path, create_root=False).probe().success
        if not exists:
            message = PATH_MISSING.format(path=self.path)
        elif not is_nas:
            message = NOT_MOUNTED.format(marker=MARKER, path=self.path)
        elif not writable:
            message = NOT_WRITABLE
        else:
            message = None
        return TargetState(
            configured=message is None,
            host="SMB Mount",
            path=self.path,
            path_defined=True,
            path_exists=exists,
            path_writable=writable,
            mounted=mounted,
            message=message,
        )

    def prepare(self) -> None:
        """What the target reads from the database before it is reached: nothing here."""

    def still_valid(self) -> bool:
        """Checked before every copy: an unmount mid-run must not send files to the local disk."""
        return self._is_nas()

    def open(self) -> Remote:
        return LocalRemote(root=self.path, create_root=False)

    def display(self, rel: str) -> str:
        return os.path.join(self.path, *rel.split("/"))

    def mark(self, remote: Remote) -> None:
        mark_share(remote, "documents are synced here (see README, Documents).")

    def close(self) -> None:
        return None


class RemoteTarget:
    """A stored remote (SMB share, WebDAV, S3 ...) reached directly, no mount involved."""

    def __init__(self, name: str, opener: Callable[[str], Remote | None]) -> None:
        self.name = name
        self._opener = opener
        self._remote: Remote | None = None
        self._opened = False

    def _get(self) -> Remote | None:
        if not self._opened:
            self._remote, self._opened = self._opener(self.name), True
        return self._remote

    def prepare(self) -> None:
        """Open the stored remote (its settings are read from the database) before it is
        reached, so that the caller can end the transaction first."""
        self._get()

    def check(self, *, probe: bool = False) -> TargetState:
        remote = self._get()
        if remote is None:
            message: str | None = UNKNOWN_REMOTE.format(name=self.name)
            exists = writable = False
        else:
            try:
                remote.stat(MARKER)  # cheap: proves the server answers and the folder is there
                exists, message = True, None
            except RemoteError as exc:
                exists, message = False, UNREACHABLE.format(error=exc)
            writable = exists
            if exists and probe:
                result = remote.probe()
                writable = result.success
                message = None if writable else f"{NOT_WRITABLE}: {result.message}"
        return TargetState(
            configured=message is None,
            host=f"{remote.kind.upper()} remote" if remote else "remote",
            path=remote.describe() if remote else self.name,
            path_defined=True,
            path_exists=exists,
            path_writable=writable,
            mounted=exists,
            message=message,
        )

    def still_valid(self) -> bool:
        return True  # a remote cannot silently become the local disk

    def open(self) -> Remote:
        remote = self._get()
        if remote is None:
            raise NasNotConfigured(UNKNOWN_REMOTE.format(name=self.name))
        return remote

    def display(self, rel: str) -> str:
        return f"{self.name}:{rel}"

    def mark(self, remote: Remote) -> None:
        return None  # a marker only matters for mount points

    def close(self) -> None:
        if self._remote is not None:
            self._remote.close()


class NoTarget:
    """Neither NAS_MOUNT_PATH nor NAS_REMOTE is set."""

    def prepare(self) -> None:
        return None

    def check(self, *, probe: bool = False) -> TargetState:
        return TargetState(False, "SMB Mount", None, False, False, False, False, NOT_CONFIGURED)

    def still_valid(self) -> bool:
        return False

    def open(self) -> Remote:
        raise NasNotConfigured(NOT_CONFIGURED)

    def display(self, rel: str) -> str:
        return rel

    def mark(self, remote: Remote) -> None:
        return None

    def close(self) -> None:
        return None


Target = MountTarget | RemoteTarget | NoTarget


def nas_file_name(filename: str, doc_id: int) -> str:
    """The name the copy gets on the NAS: the user's file name, made safe for SMB."""
    name = _UNSAFE.sub("_", filename).strip().rstrip(". ")
    if not name or name in (".", "..") or name.startswith(TEMP_PREFIX) or name == MARKER:
        return f"document-{doc_id}"
    stem, ext = posixpath.splitext(name)
    if len(name.encode()) > 200:
        ext = ext[:20]
        stem = stem.encode()[: 200 - len(ext.encode())].decode(errors="ignore")
        name = stem + ext
    return name


def _candidates(name: str, doc_id: int) -> list[str]:
    stem, ext = posixpath.splitext(name)
    return [name, f"{stem}-{doc_id}{ext}", *(f"{stem}-{doc_id}-{n}{ext}" for n in range(2, 10))]


def _content_md5(remote: Remote, path: str) -> str:
    known = remote.checksum(path)
    if known:
        return known
    digest = hashlib.md5()
    with remote.open_read(path) as reader:
        while chunk := reader.read(CHUNK_SIZE):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class _Wanted:
    """What copying a document needs, read from its row before the transaction ends."""

    id: int
    stored_path: str
    md5: str
    size: int
    folder: str
    name: str


class NasSync:
    def __init__(
        self,
        source: Remote,
        session: Session,
        target: Target,
        *,
        folder_names: str = "en",
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] | None = None,
        on_result: Callable[[Document, str | None], None] | None = None,
    ) -> None:
        if folder_names not in FOLDER_NAMES:
            raise ValueError(
                f"documents.nas_folder_names must be 'en' or 'fr', not {folder_names!r}"
            )
        self.source = source
        self.session = session
        self.target = target
        self.folders = FOLDER_NAMES[folder_names]
        self.retry = retry or RetryPolicy()
        self._sleep_options = {"sleep": sleep} if sleep else {}
        # told of every recorded attempt (error None: synced), e.g. to publish live events
        self._on_result = on_result or (lambda document, error: None)

    def close(self) -> None:
        self.target.close()

    def __enter__(self) -> NasSync:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- no database connection while the NAS is reached (issue 18) ----------------------------

    def _release(self) -> None:
        """End the session's transaction: its connection goes back to the pool before the NAS
        (or the document store) is reached, which may stall for as long as its timeouts."""
        self.session.commit()

    def _check(self, *, probe: bool = False) -> TargetState:
        self.target.prepare()
        self._release()
        return self.target.check(probe=probe)

    # --- reports ---------------------------------------------------------------------------------

    def _scoped(self, query, owner_id: int | None):
        return query if owner_id is None else query.where(Document.owner_id == owner_id)

    def status(self, owner_id: int | None) -> dict:
        total = self.session.scalar(self._scoped(select(func.count(Document.id)), owner_id)) or 0
        synced_query = select(func.count(Document.id)).where(Document.synced_to_nas.is_(True))
        synced = self.session.scalar(self._scoped(synced_query, owner_id)) or 0
        last = self.session.scalar(self._scoped(select(func.max(Document.synced_at)), owner_id))
        return {
            "total_documents": total,
            "synced": synced,
            "pending": total - synced,
            "sync_percentage": round(100.0 * synced / total, 1) if total else 0.0,
            "last_sync": isoformat(last),
            "nas_configured": self._check().configured,
        }

    def config(self) -> dict:
        return self._check().config_reply()

    def test(self) -> tuple[bool, str]:
        """Seed 001's POST /test: write, read back and delete a probe; mark a healthy mount."""
        state = self._check()
        if state.message is not None and state.message != NOT_WRITABLE:
            return False, state.message
        state = self._check(probe=True)
        if not state.configured:
            return False, state.message or NOT_WRITABLE
        try:
            self.target.mark(self.target.open())
        except RemoteError as exc:
            return False, f"{NOT_WRITABLE}: {exc}"
        return True, ACCESSIBLE

    def require_configured(self) -> None:
        state = self._check()
        if not state.configured:
            raise NasNotConfigured(state.message or NOT_CONFIGURED)

    # --- syncing ---------------------------------------------------------------------------------

    def pending(self, owner_id: int | None) -> list[Document]:
        query = select(Document).where(Document.synced_to_nas.is_(False)).order_by(Document.id)
        return list(self.session.scalars(self._scoped(query, owner_id)))

    def run(
        self,
        owner_id: int | None = None,
        *,
        after_each: Callable[[int, bool], None] | None = None,
    ) -> RunResult:
        """Sync every pending document (of `owner_id`, or everyone's); raises NasNotConfigured
        before writing anything when the target is not usable."""
        self.require_configured()
        with _run_lock:
            documents = self.pending(owner_id)
            result = RunResult(total=len(documents))
            remote = self.target.open()
            stopped: str | None = None
            for document in documents:
                try:
                    if stopped is not None:
                        raise DocumentSyncError(f"{NOT_ATTEMPTED} ({stopped})")
                    self._sync(document, remote)
                    result.synced += 1
                    ok = True
                except DocumentSyncError as exc:
                    self._failed(document, exc.message)
                    result.failed += 1
                    result.errors.append(f"Document {document.id}: {exc.message}")
                    stopped = stopped or (exc.message if exc.fatal else None)
                    ok = False
                if after_each is not None:
                    after_each(document.id, ok)
        log.info("NAS sync: %d synced, %d failed of %d", result.synced, result.failed, result.total)
        return result

    def sync_document(self, document: Document) -> str:
        """Sync one document (again, if it was synced); returns its path on the NAS."""
        self.require_configured()
        with _run_lock:
            try:
                return self._sync(document, self.target.open())
            except DocumentSyncError as exc:
                self._failed(document, exc.message)
                raise

    def _failed(self, document: Document, message: str) -> None:
        document.last_error = message
        self.session.commit()
        log.warning(
            "NAS sync of document %d failed: %s", document.id, message,
            extra={"owner": document.owner_id},
        )  # fmt: skip
        self._on_result(document, message)

    def _sync(self, document: Document, remote: Remote) -> str:
        if not self.target.still_valid():
            raise DocumentSyncError(self._check().message or NOT_CONFIGURED, fatal=True)
        day = document.document_date
        wanted = _Wanted(
            document.id, document.stored_path, document.md5, document.size,
            folder=f"{day.year:04d}/{day.month:02d}/{self.folders[document.type]}",
            name=nas_file_name(document.filename, document.id),
        )  # fmt: skip
        claimed = self._claimed(wanted)
        self._release()  # `wanted` holds what the copy needs: nothing below loads a row
        try:
            source = self.source.stat(wanted.stored_path)
            if source is None:
                raise DocumentSyncError(SOURCE_MISSING)
            rel, present = self._place(remote, wanted, claimed)
            if not present:
                copy_verified(
                    self.source,
                    wanted.stored_path,
                    remote,
                    rel,
                    retry=self.retry,
                    expected_md5=wanted.md5,
                    modified=source.modified,
                    **self._sleep_options,
                )
        except RemoteFull:
            raise DocumentSyncError(DISK_FULL) from None
        except RemoteUnavailable as exc:
            raise DocumentSyncError(f"NAS unavailable: {exc}", fatal=True) from None
        except RemoteNotFound:
            raise DocumentSyncError(SOURCE_MISSING) from None
        except ChecksumMismatch as exc:
            raise DocumentSyncError(f"Checksum mismatch: {exc}") from None
        except RemoteError as exc:
            raise DocumentSyncError(str(exc)) from None
        path = self.target.display(rel)
        document.synced_to_nas = True
        document.synced_at = utcnow()
        document.nas_path = path
        document.last_error = None
        self.session.commit()
        self._on_result(document, None)
        return path

    def _claimed(self, wanted: _Wanted) -> set[str]:
        """The NAS paths of the document's candidate names that other documents have."""
        paths = [
            self.target.display(f"{wanted.folder}/{name}")
            for name in _candidates(wanted.name, wanted.id)
        ]
        query = select(Document.nas_path).where(
            Document.nas_path.in_(paths), Document.id != wanted.id
        )
        return set(self.session.scalars(query))

    def _place(self, remote: Remote, wanted: _Wanted, claimed: set[str]) -> tuple[str, bool]:
        """The relative path for the copy, and whether the identical file is already there
        (a re-run after a crash between copy and commit, or a re-sync): never overwrite."""
        for candidate in _candidates(wanted.name, wanted.id):
            rel = f"{wanted.folder}/{candidate}"
            if self.target.display(rel) in claimed:
                continue
            entry = remote.stat(rel)
            if entry is None:
                return rel, False
            if entry.size == wanted.size and _content_md5(remote, rel) == wanted.md5:
                return rel, True
        raise DocumentSyncError(f"No free file name for {wanted.name!r} in {wanted.folder}")
