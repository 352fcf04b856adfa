"""Which folders a sync job may use: its owner's sync roots, and each path checked against them.

A user's roots:
- personal: every `sync.allowed_roots` entry holding `{user_id}`, with the user's id put in
  (`/srv/sync/users/{user_id}` is `/srv/sync/users/7` for user 7): theirs alone;
- granted: folders an administrator granted the user (`User.sync_roots`);
- shared: the entries without a placeholder, for administrators only.
With `allowed_roots` empty: `<instance>/sync` is shared and `<instance>/sync/users/{user_id}`
personal.

The path is matched against the roots as written, without looking at the disk, so a folder
outside them gets the same answer whether it exists or not. Below its root, a folder is then
opened one component at a time without following links (folders.py), at creation and at every
run. A job's folder may not be a whole shared root, nor contain the personal roots' parent or a
folder granted to someone: an administrator's job must not sweep up users' folders.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ..auth.sync_roots import absolute_folder
from ..config import SYNC_ROOT_PLACEHOLDER
from ..failures import BadRequest, Forbidden

PERSONAL, GRANTED, SHARED = "personal", "granted", "shared"


@dataclass(frozen=True)
class Root:
    path: str  # absolute, with the links of the operator's own path resolved
    kind: str  # personal, granted or shared
    written: str  # as configured (made absolute): a folder may be named by either form


@dataclass(frozen=True)
class Folder:
    """A job's folder: its root, and where it lies below it ("" for the root itself)."""

    root: Root
    rel: str

    @property
    def path(self) -> str:
        return f"{self.root.path.rstrip('/')}/{self.rel}" if self.rel else self.root.path


def configured_roots(sync_settings: Any, instance_path: str) -> list[str]:
    default = [
        os.path.join(instance_path, "sync"),
        os.path.join(instance_path, "sync", "users", SYNC_ROOT_PLACEHOLDER),
    ]
    return list(sync_settings.allowed_roots) or default


def _root(written: str, kind: str) -> Root:
    written = absolute_folder(written)
    return Root(os.path.realpath(written), kind, written)


def user_roots(
    user_id: int, is_admin: bool, granted: Iterable[str], sync_settings: Any, instance_path: str
) -> list[Root]:
    """The roots of one user, most specific first (a personal root may lie in a shared one)."""
    roots = []
    for entry in configured_roots(sync_settings, instance_path):
        if SYNC_ROOT_PLACEHOLDER in entry:
            roots.append(_root(entry.replace(SYNC_ROOT_PLACEHOLDER, str(user_id)), PERSONAL))
        elif is_admin:
            roots.append(_root(entry, SHARED))
    roots += [_root(path, GRANTED) for path in granted]
    return sorted(roots, key=lambda root: len(root.path), reverse=True)


def protected_folders(
    sync_settings: Any, instance_path: str, granted_to_anyone: Iterable[str]
) -> list[str]:
    """Folders no job may contain: the parent of every user's personal root (the part of an
    entry before its placeholder) and every granted folder."""
    protected = []
    for entry in configured_roots(sync_settings, instance_path):
        if SYNC_ROOT_PLACEHOLDER in entry:
            parts = absolute_folder(entry).split("/")
            first = next(i for i, part in enumerate(parts) if SYNC_ROOT_PLACEHOLDER in part)
            protected.append(os.path.realpath("/".join(parts[:first]) or "/"))
    protected += [os.path.realpath(absolute_folder(path)) for path in granted_to_anyone]
    return protected


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def _invalid(field: str, message: str) -> BadRequest:
    return BadRequest(message, code="invalid_path", field=field)


def _checked_syntax(raw: object, field: str) -> str:
    if not isinstance(raw, str) or not raw.strip() or "\x00" in raw:
        raise _invalid(field, f"{field} must be a folder path.")
    if ".." in raw.replace("\\", "/").split("/"):
        raise _invalid(field, f"{field} may not contain '..'.")
    if not os.path.isabs(raw):
        raise _invalid(field, f"{field} must be an absolute path.")
    return absolute_folder(raw)


def locate(raw: object, roots: list[Root], protected: list[str], field: str) -> Folder:
    """The folder `raw` names, in one of `roots`; 403 `folder_not_allowed` when it lies in none
    (decided from the path alone: the answer does not depend on what exists)."""
    path = _checked_syntax(raw, field)
    for root in roots:
        for form in (root.path, root.written):
            if _inside(path, form):
                folder = Folder(root, path[len(form) :].strip("/"))
                _check_scope(folder, protected, field)
                return folder
    raise Forbidden(
        f"{field} {raw!r} is not in a sync folder the job's owner may use "
        "(GET /api/v1/syncs/roots lists yours).",
        code="folder_not_allowed",
        field=field,
    )


def _check_scope(folder: Folder, protected: list[str], field: str) -> None:
    if not folder.rel and folder.root.kind == SHARED:
        raise _invalid(
            field,
            f"{field} is the whole shared folder {folder.root.path}: name a folder inside it.",
        )
    path = folder.path
    for other in protected:
        if _inside(other, path) and other != folder.root.path:
            raise _invalid(
                field,
                f"{field} {path} holds other users' sync folders: name a folder beside them.",
            )


def check_remote_folder(raw: str, field: str) -> str:
    """A folder inside a stored remote: relative, '/'-separated, without '..'."""
    if not isinstance(raw, str) or "\x00" in raw:
        raise _invalid(field, f"{field} must be a folder path.")
    parts = [p for p in raw.replace("\\", "/").split("/") if p not in ("", ".")]
    if ".." in parts:
        raise _invalid(field, f"{field} may not contain '..'.")
    return "/".join(parts)


def check_not_overlapping(source: str, destination: str) -> None:
    if _inside(source, destination) or _inside(destination, source):
        raise _invalid(
            "destination_path",
            "source_path and destination_path may not be the same folder or contain each other.",
        )
