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


def encoded_name_form(name: str, data: bytes, **fields: str) -> tuple[bytes, str]:
    """A multipart body naming its file with RFC 5987's `filename*` (percent-encoded), the way a
    client can send a name no plain header carries, e.g. one ending in a newline; and its
    Content-Type. Returns (body, content type)."""
    from urllib.parse import quote

    boundary = "syncapp-test-boundary"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{value}\r\n'.encode()
        for key, value in fields.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
        f"filename*=UTF-8''{quote(name, safe='')}\r\n"
        "Content-Type: application/gzip\r\n\r\n".encode()
        + data
        + b"\r\n"
    )
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"
