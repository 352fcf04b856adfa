"""Helpers for the backup tests: archives, uploads and a picture of the store on disk."""

from __future__ import annotations

import gzip
import hashlib
import io
from pathlib import Path

from tests.conftest import bearer


def make_archive(seed: int = 0, size: int = 4096) -> bytes:
    """A real gzip stream of `size` uncompressed pseudo-random-ish bytes."""
    payload = hashlib.sha256(str(seed).encode()).digest() * (size // 32 + 1)
    return gzip.compress(payload[:size], mtime=0)


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def upload(client, token, data: bytes, name: str, **fields):
    form = {"file": (io.BytesIO(data), name), **fields}
    return client.post(
        "/upload", headers=bearer(token), data=form, content_type="multipart/form-data"
    )


def store_tree(root: Path) -> dict[str, bytes]:
    """Every file under the store, hidden ones included, with its content."""
    if not root.exists():
        return {}
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }
