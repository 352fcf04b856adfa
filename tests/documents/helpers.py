"""Helpers for the document tests: uploads, NAS folders, a picture of a tree on disk."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

from tests.conftest import bearer
from tests.peers.process import peer_missing


def upload(client, token, data: bytes, name: str, kind: str = "invoice", **fields):
    form = {"file": (io.BytesIO(data), name), "type": kind, **fields}
    return client.post(
        "/api/v1/documents", headers=bearer(token), data=form, content_type="multipart/form-data"
    )


def uploaded(client, token, data: bytes, name: str, kind: str = "invoice", **fields) -> dict:
    response = upload(client, token, data, name, kind, **fields)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def tree(root: Path) -> dict[str, bytes]:
    """Every file under `root`, hidden ones included, with its content."""
    if not root.exists():
        return {}
    files = sorted(p for p in root.rglob("*") if p.is_file())
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in files}


def mount_tmpfs(mount_point: Path, size: str = "4m", *, read_only: bool = False) -> None:
    """A real file system mounted at `mount_point` (needs root), as a NAS share would be."""
    mount_point.mkdir(parents=True, exist_ok=True)
    options = f"size={size}" + (",ro" if read_only else "")
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        peer_missing(f"cannot mount a tmpfs (needs root): {result.stderr.strip()}")


def unmount(mount_point: Path) -> None:
    # --lazy: a share detaches at once even while a server still holds a folder descriptor
    # in it (a run's open destination, the background destination check), as a NAS that goes
    # away does; a plain umount then failed with "target is busy" and the share stayed.
    subprocess.run(["umount", "--lazy", str(mount_point)], check=False, capture_output=True)
