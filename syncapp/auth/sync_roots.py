"""Folders an administrator grants a user for sync jobs (`User.sync_roots`), as stored."""

from __future__ import annotations

import os


def absolute_folder(path: str) -> str:
    normal = os.path.normpath(os.path.abspath(path))
    return "/" + normal.lstrip("/")  # normpath keeps a leading "//"


def granted_root(raw: object) -> str:
    """A folder an administrator grants a user, made absolute; ValueError says what is wrong."""
    if not isinstance(raw, str) or not raw.strip() or "\x00" in raw:
        raise ValueError("a folder path")
    if not os.path.isabs(raw) or ".." in raw.split("/"):
        raise ValueError(f"{raw!r}: an absolute path without '..'")
    if "{" in raw or "}" in raw:
        raise ValueError(f"{raw!r}: a granted folder holds no placeholder")
    return absolute_folder(raw)
