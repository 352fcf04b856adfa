"""Helpers for the scrub tests: real tar.gz archives, one stored object of each kind, tampering
with the stored bytes through the store's own Remote (a local folder, the S3 peer, the SMB
peer), and running the scrub with the clock and the rate driven by the test."""

from __future__ import annotations

import gzip
import io
import tarfile
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from syncapp.auth.accounts import find_user
from syncapp.backups.integrity import wait_idle
from syncapp.backups.models import BackupArchive
from syncapp.cloud.models import CloudVersion
from syncapp.cordiax.models import CordiaxSnapshot
from syncapp.cordiax.wiring import snapshot_store
from syncapp.documents.models import Document
from syncapp.extensions import db
from syncapp.remotes.catalog import create_remote
from syncapp.scrub.models import ScrubResult
from syncapp.scrub.service import Slice
from syncapp.scrub.wiring import REMOTES, scrubber
from tests.conftest import bearer, make_token, make_user
from tests.cordiax.payloads import sqlite_database

ARCHIVE_NAME = "full_2026-12-01_00-00-00.tar.gz"
#: the feature settings sections, by scrub kind
SECTIONS = {
    "backup": "backups",
    "cordiax": "cordiax",
    "document": "documents",
    "cloud_version": "cloud",
}


def tar_bytes(seed: int = 0, files: int = 3, size: int = 20_000) -> bytes:
    """An uncompressed tar of `files` members of pseudo-random bytes (as tar -c makes)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.GNU_FORMAT) as archive:
        for n in range(files):
            data = uuid.UUID(int=seed * 1000 + n).bytes * (size // 16)
            info = tarfile.TarInfo(f"home/user/file-{n}.bin")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def tar_gz(seed: int = 0, cut: int | None = None) -> bytes:
    """A .tar.gz; with `cut`, the tar is cut after that many bytes and then gzipped: a complete
    gzip stream of a truncated tar (what a `tar | gzip` killed mid-way can leave)."""
    raw = tar_bytes(seed)
    return gzip.compress(raw if cut is None else raw[:cut], mtime=0)


@dataclass
class Stored:
    """One object of each kind, their ids, and the admin who owns them."""

    token: str
    user_id: int
    archive: bytes
    ids: dict[str, int]
    paths: dict[str, str]
    document_id: int
    device: str = "pc"


def use_peer_stores(app, kind: str, settings: dict) -> None:
    """Stored remotes on the peer, one per feature under a folder of its own (the app's
    settings name them `scrub-<section>`)."""
    with app.app_context():
        for section in SECTIONS.values():
            folder = f"scrub-{section}-{uuid.uuid4().hex[:10]}"
            where = {"prefix": folder} if kind == "s3" else {"remote_path": folder}
            create_remote(f"scrub-{section}", kind, {**settings, **where})


def peer_sections() -> dict[str, dict]:
    return {section: {"remote": f"scrub-{section}"} for section in SECTIONS.values()}


def store_one_of_each(app) -> Stored:
    make_user(app, "root@example.com", role="admin")
    token = make_token(app, "root@example.com")
    client = app.test_client()
    archive = tar_gz(1)
    form = {"file": (io.BytesIO(archive), ARCHIVE_NAME), "type": "FULL", "profile": "office"}
    reply = client.post(
        "/upload", headers=bearer(token), data=form, content_type="multipart/form-data"
    )
    assert reply.status_code == 201, reply.get_json()
    wait_idle()  # the upload's own gzip check is done before the test touches the bytes
    form = {"file": (io.BytesIO(b"%PDF-1.7 invoice " * 500), "invoice.pdf"), "type": "invoice"}
    reply = client.post(
        "/api/v1/documents", headers=bearer(token), data=form, content_type="multipart/form-data"
    )
    assert reply.status_code == 201, reply.get_json()
    form = {"file": (io.BytesIO(b"quarterly figures\n" * 800), "figures.txt")}
    reply = client.post(
        "/api/v1/upload", headers=bearer(token), data=form, content_type="multipart/form-data"
    )
    assert reply.status_code in (200, 201, 202), reply.get_json()
    with app.app_context():
        user_id = find_user("root@example.com").id
        snapshot_store().store(user_id, "pc", sqlite_database(6000))
        rows = {
            "backup": db.session.scalars(select(BackupArchive)).one(),
            "cordiax": db.session.scalars(select(CordiaxSnapshot)).one(),
            "document": db.session.scalars(select(Document)).one(),
            "cloud_version": db.session.scalars(select(CloudVersion)).one(),
        }
        ids = {kind: row.id for kind, row in rows.items()}
        paths = {kind: getattr(row, "path", None) or row.stored_path for kind, row in rows.items()}
        return Stored(token, user_id, archive, ids, paths, ids["document"])


def read_stored(app, kind: str, path: str) -> bytes:
    with app.app_context(), REMOTES[kind]().open_read(path) as reader:
        return reader.read()


def write_stored(app, kind: str, path: str, data: bytes) -> None:
    with app.app_context():
        REMOTES[kind]().write(path, io.BytesIO(data), size=len(data))


def flip_one_byte(app, kind: str, path: str) -> bytes:
    """Change one byte in the middle of the stored object, in its store; the original bytes."""
    original = read_stored(app, kind, path)
    middle = len(original) // 2
    damaged = original[:middle] + bytes([original[middle] ^ 0x01]) + original[middle + 1 :]
    write_stored(app, kind, path, damaged)
    return original


def delete_stored(app, kind: str, path: str) -> None:
    with app.app_context():
        REMOTES[kind]().delete(path)


class Clock:
    """The scrub's clocks, moved by the test: `now` (recorded times), a monotonic clock, and a
    sleep that moves both (the rate limiter's waits take no real time)."""

    def __init__(self) -> None:
        self.wall = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
        self.mono = 1000.0
        self.slept: list[float] = []

    def now(self) -> datetime:
        return self.wall

    def monotonic(self) -> float:
        return self.mono

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.advance(seconds)

    def advance(self, seconds: float) -> None:
        self.mono += seconds
        self.wall += timedelta(seconds=seconds)


def scrub_pass(app, clock: Clock | None = None, **options) -> Slice:
    """A whole pass, started now (as POST /api/v1/scrub would ask), read to its end."""
    clock = clock or Clock()
    with app.app_context():
        service = scrubber(
            max_rate=options.pop("max_rate", None),
            now=clock.now,
            clock=clock.monotonic,
            sleep=clock.sleep,
            **options,
        )
        service.request("request")
        done = service.run()
        assert done is not None and done.finished, done
        return done


def verdicts(app) -> dict[str, tuple[str, str]]:
    """(integrity, detail) per kind as the scrub recorded them."""
    with app.app_context():
        return {r.kind: (r.integrity, r.detail) for r in db.session.scalars(select(ScrubResult))}


def archive_integrity(app) -> str:
    with app.app_context():
        return db.session.scalars(select(BackupArchive.integrity)).one()
