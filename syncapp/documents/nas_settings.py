"""The NAS target as set on /settings/nas (issue 22), or config.yaml's when none is set.

`effective` is what every NAS use reads (documents/wiring.py): the database's row first, then the
`documents` settings section, so an administrator's change applies to the next request, sync or
check of every process without a restart. `parse` validates what the form or the API sends."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..failures import BadRequest
from ..remotes.models import StoredRemote
from ..timeutil import isoformat, utcnow
from .models import NasSetting
from .nas import FOLDER_NAMES

ROW_ID = 1  # one target per server


@dataclass(frozen=True)
class NasChoice:
    """What documents/wiring.nas_target reads (the `documents` section's names)."""

    nas_mount_path: str | None
    nas_remote: str | None
    nas_folder_names: str
    source: str  # "settings": set on /settings/nas; "config": config.yaml or the environment


def effective(session: Session, options: Any) -> NasChoice:
    row = session.get(NasSetting, ROW_ID)
    if row is not None:
        return NasChoice(row.mount_path, row.remote_name, row.folder_names, "settings")
    return NasChoice(options.nas_mount_path, options.nas_remote, options.nas_folder_names, "config")


def _invalid(message: str, field: str) -> BadRequest:
    return BadRequest(message, code="invalid_nas_target", errors={field: [message]})


def parse(session: Session, body: dict) -> NasChoice:
    """A target from the API's body: exactly one of `mount_path` (an absolute folder) and
    `remote_name` (a stored remote), and `folder_names` (en or fr)."""
    mount = (body.get("mount_path") or "").strip() or None
    remote = (body.get("remote_name") or "").strip() or None
    folders = body.get("folder_names") or "en"
    if folders not in FOLDER_NAMES:
        raise _invalid(f"Folder names must be one of {', '.join(FOLDER_NAMES)}.", "folder_names")
    if (mount is None) == (remote is None):
        raise _invalid("Give either a mounted folder or a stored remote, not both.", "mount_path")
    if mount is not None:
        if "\0" in mount or len(mount) > 1024 or not os.path.isabs(mount):
            message = "The mounted folder must be an absolute path, e.g. /mnt/nas."
            raise _invalid(message, "mount_path")
        mount = os.path.normpath(mount)
    known = select(StoredRemote.id).where(StoredRemote.name == remote)
    if remote is not None and session.scalar(known) is None:
        raise _invalid(f"No stored remote is named {remote!r}.", "remote_name")
    return NasChoice(mount, remote, folders, "settings")


def save(session: Session, choice: NasChoice, user_id: int | None) -> None:
    row = session.get(NasSetting, ROW_ID) or NasSetting(id=ROW_ID)
    row.mount_path, row.remote_name = choice.nas_mount_path, choice.nas_remote
    row.folder_names, row.updated_at, row.updated_by = choice.nas_folder_names, utcnow(), user_id
    session.add(row)
    session.commit()


def clear(session: Session) -> None:
    """Back to config.yaml's target."""
    row = session.get(NasSetting, ROW_ID)
    if row is not None:
        session.delete(row)
        session.commit()


def describe(session: Session, choice: NasChoice) -> dict:
    row = session.get(NasSetting, ROW_ID) if choice.source == "settings" else None
    return {
        "mount_path": choice.nas_mount_path,
        "remote_name": choice.nas_remote,
        "folder_names": choice.nas_folder_names,
        "source": choice.source,
        "updated_at": isoformat(row.updated_at) if row is not None else None,
    }
