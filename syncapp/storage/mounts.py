"""Is a folder really the share it should be, or the empty local folder an unmount leaves?

A NAS share mounted at /mnt/nas is a folder of the local disk again once it is unmounted: files
written there land on the wrong disk, and a feature that deletes its originals after copying
(documents, sync jobs with `delete_after_sync`) would lose them. A folder counts as the share only
when it is a mount point, or when it holds the `.syncapp-nas` marker: the marker is a file on the
share itself, so it vanishes with an unmount. Documents and sync jobs use this one check.
"""

from __future__ import annotations

import io
import os
from stat import S_ISREG

from .base import Remote

MARKER = ".syncapp-nas"
_FOLDER_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC


def is_mount_point(folder_fd: int) -> bool:
    """os.path.ismount for an open folder: another device than its parent, or the root."""
    here = os.fstat(folder_fd)
    parent = os.stat("..", dir_fd=folder_fd)
    return here.st_dev != parent.st_dev or here.st_ino == parent.st_ino


def holds_share(folder: str | int) -> bool:
    """True when `folder` (a path, or an open folder's descriptor) is a mount point or holds
    the marker; False also when it cannot be opened."""
    if isinstance(folder, str):
        try:
            fd = os.open(folder, _FOLDER_FLAGS)
        except OSError:
            return False
        try:
            return holds_share(fd)
        finally:
            os.close(fd)
    try:
        if S_ISREG(os.stat(MARKER, dir_fd=folder, follow_symlinks=False).st_mode):
            return True
    except OSError:
        pass
    try:
        return is_mount_point(folder)
    except OSError:
        return False


def mark_share(remote: Remote, purpose: str) -> None:
    """Write the marker at the top of `remote` (a folder seen while the share is mounted)."""
    if remote.stat(MARKER) is None:
        body = f"syncapp NAS target: {purpose}\n".encode()
        remote.write(MARKER, io.BytesIO(body), size=len(body))
