"""A job's local folders, checked against its owner's roots and opened beneath them: when the job
is created or changed, and again at every run (a grant revoked, a folder swapped for a link).

The source and a local destination are opened through ConfinedLocalRemote: from the root down,
one component at a time, never through a symbolic link, and read and written by descriptor. A
local destination must exist and be the share it was when the job was made: a mount point, or
a folder holding the `.syncapp-nas` marker, which the job writes there when it is created. An
unmounted share (the marker gone with it) or a removed folder makes the run wait; syncapp never
creates the destination itself.
"""

from __future__ import annotations

import os

from flask import current_app
from sqlalchemy import select

from ..auth.models import User
from ..extensions import db
from ..failures import BadRequest, DomainError, NotFound
from ..settings import settings
from ..storage import RemoteError, RemoteNotFound
from ..storage.local import ConfinedLocalRemote, PathRefused
from ..storage.mounts import MARKER, holds_share, mark_share
from .engine import DestinationUnavailable, JobRefused, SourceMissing
from .models import SyncJob
from .paths import Folder, Root, locate, protected_folders, user_roots

MISSING = (
    "destination folder {path} does not exist (an unmounted share?); syncapp never creates it: "
    "the job waits until it is there"
)
NOT_THE_SHARE = (
    "destination folder {path} is not a mount point and holds no {marker} marker: the share is "
    "probably not mounted (files written now would land on the local disk); the job waits"
)
MARK_PURPOSE = "sync jobs copy here; while this file is missing they wait (see README, Sync jobs)."


def roots_of(user: User) -> list[Root]:
    options = settings().sync
    return user_roots(
        user.id, user.is_admin, user.sync_roots or [], options, current_app.instance_path
    )


def _protected() -> list[str]:
    every_grant = db.session.scalars(select(User.sync_roots))
    granted = [path for paths in every_grant for path in paths or ()]
    options = settings().sync
    return protected_folders(options, current_app.instance_path, granted)


def locate_for(owner: User, raw: object, field: str) -> Folder:
    """The folder `raw` names among `owner`'s roots (DomainError when it is not one of theirs)."""
    return locate(raw, roots_of(owner), _protected(), field)


#: the most folders one listing of the folder picker returns
MAX_SUBFOLDERS = 500


def subfolders(owner: User, raw: object) -> dict:
    """The folders inside `raw` (a folder in one of `owner`'s roots), for the Sync jobs page's
    folder picker: opened as a job's folders are (no link followed below the root), links and
    hidden names left out. NotFound when the folder is not there."""
    # a root itself is listed too (a job may not use a whole shared root, but picks inside it)
    roots = {form: root for root in roots_of(owner) for form in (root.path, root.written)}
    at_root = roots.get(raw.rstrip("/") or "/") if isinstance(raw, str) else None
    folder = Folder(at_root, "") if at_root is not None else locate_for(owner, raw, "path")
    try:
        remote = _open(folder)
    except RemoteNotFound:
        raise NotFound(f"folder {folder.path} does not exist.", code="folder_missing") from None
    except (PathRefused, RemoteError) as exc:
        raise BadRequest(str(exc), code="invalid_path", field="path") from None
    try:
        with os.scandir(remote.folder_fd) as items:
            names = sorted(
                item.name
                for item in items
                if not item.name.startswith(".") and item.is_dir(follow_symlinks=False)
            )
    except OSError as exc:
        raise BadRequest(f"folder {folder.path} cannot be read: {exc.strerror}.",
                         code="invalid_path", field="path") from None  # fmt: skip
    finally:
        remote.close()
    parent = None
    if folder.rel:
        parent = os.path.dirname(folder.path)
    return {
        "path": folder.path,
        "root": folder.root.path,
        "parent": parent,
        "folders": names[:MAX_SUBFOLDERS],
        "truncated": len(names) > MAX_SUBFOLDERS,
    }


def _open(folder: Folder) -> ConfinedLocalRemote:
    return ConfinedLocalRemote.open(folder.root.path, folder.rel)


def check_source(folder: Folder) -> None:
    """At creation: the part of the source that exists holds no link (the rest may come later)."""
    try:
        _open(folder).close()
    except RemoteNotFound:
        return
    except RemoteError as exc:  # a link or a file in the way, a folder that cannot be read
        raise BadRequest(f"source_path: {exc}", code="invalid_path", field="source_path") from None


def prepare_destination(folder: Folder) -> None:
    """At creation: the destination exists, holds no link, and is marked as the share (unless
    it is a mount point itself)."""
    field = "destination_path"
    try:
        remote = _open(folder)
    except RemoteNotFound:
        raise BadRequest(
            f"destination_path {folder.path} does not exist: create it first (syncapp never "
            "creates a destination: an unmounted share would become a local folder).",
            code="destination_missing",
            field=field,
        ) from None
    except RemoteError as exc:
        raise BadRequest(f"{field}: {exc}", code="invalid_path", field=field) from None
    try:
        if not holds_share(remote.folder_fd):
            mark_share(remote, MARK_PURPOSE)
    except RemoteError as exc:
        raise BadRequest(
            f"destination_path {folder.path} cannot be written: {exc}",
            code="destination_not_writable",
            field=field,
        ) from None
    finally:
        remote.close()


# --- at every run ----------------------------------------------------------------------------


def _job_folder(job: SyncJob, path: str, field: str) -> Folder:
    owner = db.session.get(User, job.owner_id)
    try:
        return locate_for(owner, path, field)
    except DomainError as exc:
        raise JobRefused(exc.message) from None


def open_source(job: SyncJob) -> ConfinedLocalRemote:
    folder = _job_folder(job, job.source_path, "source_path")
    try:
        return _open(folder)
    except RemoteNotFound:
        raise SourceMissing(f"source folder {job.source_path} does not exist") from None
    except PathRefused as exc:
        raise JobRefused(f"source_path {job.source_path}: {exc}") from None
    except RemoteError as exc:
        raise SourceMissing(f"cannot open {job.source_path}: {exc}") from None


def open_local_destination(job: SyncJob) -> ConfinedLocalRemote:
    folder = _job_folder(job, job.destination_path, "destination_path")
    try:
        remote = _open(folder)
    except RemoteNotFound:
        raise DestinationUnavailable(MISSING.format(path=job.destination_path)) from None
    except PathRefused as exc:
        raise JobRefused(f"destination_path {job.destination_path}: {exc}") from None
    except RemoteError as exc:
        raise DestinationUnavailable(f"{job.destination_path}: {exc}") from None
    if not holds_share(remote.folder_fd):
        remote.close()
        raise DestinationUnavailable(NOT_THE_SHARE.format(path=job.destination_path, marker=MARKER))
    return remote
