"""Snapshot payloads: plaintext SQLite, an 'encrypted' blob, and Cordiax ZIP bundles."""

from __future__ import annotations

import hashlib
import io
import random
import zipfile

SQLITE_HEADER = b"SQLite format 3\x00"


def sqlite_database(size: int, seed: int = 0) -> bytes:
    return SQLITE_HEADER + random.Random(seed).randbytes(size - len(SQLITE_HEADER))


def encrypted_database(size: int, seed: int = 0) -> bytes:
    return b"\x8a\x01CDXENC" + random.Random(seed).randbytes(size - 8)


def zip_bundle(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bundle:
        for name, data in members.items():
            bundle.writestr(name, data)
    return buffer.getvalue()


def cordiax_bundle(seed: int = 0) -> bytes:
    return zip_bundle(
        {
            "cordiax.db": encrypted_database(64 * 1024, seed),
            "documentos/factura 1.pdf": b"%PDF-1.7 factura",
            "pdfs/recibo.pdf": b"%PDF-1.7 recibo",
        }
    )


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
