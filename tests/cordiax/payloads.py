"""Snapshot payloads: plaintext SQLite, an 'encrypted' blob, and Cordiax ZIP bundles."""

from __future__ import annotations

import base64
import hashlib
import io
import random
import struct
import zipfile

SQLITE_HEADER = b"SQLite format 3\x00"


def sqlite_database(size: int, seed: int = 0) -> bytes:
    return SQLITE_HEADER + random.Random(seed).randbytes(size - len(SQLITE_HEADER))


def encrypted_database(size: int, seed: int = 0) -> bytes:
    """Cordiax's encrypted format: a 16-byte salt, then a Fernet token (URL-safe base64 that
    starts "gAAAAA"); random bytes stand for the ciphertext."""
    rng = random.Random(seed)
    token = b"gAAAAA" + base64.urlsafe_b64encode(rng.randbytes(size))
    return rng.randbytes(16) + token[: size - 16]


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


MiB = 1024 * 1024


def small_members_bomb(members: int = 64) -> bytes:
    """Many members of 1 MiB of zeros each (~1000x apiece): each one at or under the size the
    ratio check used to skip, together `members` MiB from a few KiB per member."""
    return zip_bundle({f"pdfs/{n}.pdf": bytes(MiB) for n in range(members)})


def one_mebibyte_bomb() -> bytes:
    """A single member of exactly 1 MiB of zeros: the boundary the ratio check used to skip."""
    return zip_bundle({"cordiax.db": bytes(MiB)})


def overlapping_bundle(copies: int) -> bytes:
    """One compressed member listed `copies` times in the central directory: entries sharing
    their bytes, each with a harmless ratio (~55x), expanding `copies` times that together."""
    rng = random.Random(7)
    data = b"".join(bytes([rng.randrange(256)]) + bytes(200) for _ in range(500))
    raw = zip_bundle({"pdfs/page.pdf": data})
    end = raw.rfind(b"PK\x05\x06")
    size, offset = struct.unpack_from("<II", raw, end + 12)
    central = raw[offset : offset + size]
    record = bytearray(raw[end:])
    struct.pack_into("<HHII", record, 8, copies, copies, size * copies, offset)
    return raw[:offset] + central * copies + bytes(record)
