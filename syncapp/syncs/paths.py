"""Which folders a sync job may read from and write to.

A job names folders on this server, so every path is checked against the configured allowed
roots after resolving symlinks: `..`, a link that leads outside, and a source and destination
that contain each other (a sync that would copy into itself) are all refused.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import BadRequest


def allowed_roots(sync_settings: dict, instance_path: str) -> list[Path]:
    roots = sync_settings["allowed_roots"] or [str(Path(instance_path) / "sync")]
    return [Path(os.path.realpath(root)) for root in roots]


def _refuse(field: str, message: str) -> BadRequest:
    return BadRequest(message, code="invalid_path", field=field)


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def check_local_folder(raw: str, roots: list[Path], field: str) -> str:
    """The absolute, symlink-free form of `raw`, or BadRequest naming the field."""
    if not isinstance(raw, str) or not raw.strip() or "\x00" in raw:
        raise _refuse(field, f"{field} must be a folder path.")
    if ".." in Path(raw).parts:
        raise _refuse(field, f"{field} may not contain '..'.")
    if not os.path.isabs(raw):
        raise _refuse(field, f"{field} must be an absolute path.")
    resolved = Path(os.path.realpath(raw))
    if not any(_inside(resolved, root) for root in roots):
        allowed = ", ".join(str(r) for r in roots)
        raise _refuse(field, f"{field} {raw!r} is outside the allowed roots ({allowed}).")
    return str(resolved)


def check_remote_folder(raw: str, field: str) -> str:
    """A folder inside a stored remote: relative, '/'-separated, without '..'."""
    if not isinstance(raw, str) or "\x00" in raw:
        raise _refuse(field, f"{field} must be a folder path.")
    parts = [p for p in raw.replace("\\", "/").split("/") if p not in ("", ".")]
    if ".." in parts:
        raise _refuse(field, f"{field} may not contain '..'.")
    return "/".join(parts)


def check_not_overlapping(source: str, destination: str) -> None:
    a, b = Path(source), Path(destination)
    if _inside(a, b) or _inside(b, a):
        raise _refuse(
            "destination_path",
            "source_path and destination_path may not be the same folder or contain each other.",
        )
