"""Run one store operation in a separate process that freezes at a chosen point, to be killed
there with SIGKILL (tests/debris/): what the kill leaves is what the debris sweep must handle.

Usage: python -m tests.debris.killed <settings.json> <marker file> <scenario> <arguments.json>

The real code runs against the real store; a freezing point is a stand-in for the feature's
Remote (`Freezing`) that, at the chosen call, writes the marker and waits for the kill, or (the
replication) an S3 part upload that does the same once its part is sent.
"""

from __future__ import annotations

import io
import json
import re
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from flask import Flask

from syncapp import create_app

MiB = 1024 * 1024


def freeze(marker: str) -> None:
    Path(marker).write_text("frozen")
    threading.Event().wait()  # until SIGKILL


class Freezing:
    """A feature's Remote that freezes at the `nth` call of `method` whose path matches `path`,
    before or after the call (the call's effect is then on the store)."""

    def __init__(
        self, remote: Any, marker: str, method: str, path: str, *, after: bool, nth: int = 1
    ) -> None:
        self._remote, self._marker, self._method = remote, marker, method
        self._path, self._after, self._left = re.compile(path), after, nth

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._remote, name)
        if name != self._method:
            return attribute

        def call(path: str, *args: Any, **kwargs: Any) -> Any:
            hit = self._path.search(path) is not None
            if hit:
                self._left -= 1
            if hit and self._left == 0 and not self._after:
                freeze(self._marker)
            result = attribute(path, *args, **kwargs)
            if hit and self._left == 0:
                freeze(self._marker)
            return result

        return call


def freeze_store(app: Flask, section: str, default: str, marker: str, *args, **kwargs) -> None:
    """Put a `Freezing` stand-in in place of the feature's Remote (remotes/wiring's cache)."""
    from syncapp.remotes.wiring import feature_remote

    with app.app_context():
        real = feature_remote(section, str(Path(app.instance_path) / default))
        app.extensions["syncapp.feature_remotes"][section] = Freezing(real, marker, *args, **kwargs)


def post(app: Flask, url: str, token: str, data: bytes, name: str, **fields: str) -> None:
    form = {"file": (io.BytesIO(data), name), **fields}
    reply = app.test_client().post(
        url,
        headers={"Authorization": f"Bearer {token}"},
        data=form,
        content_type="multipart/form-data",
    )
    raise SystemExit(f"the request ended instead of freezing: {reply.status_code} {reply.data!r}")


def slow_chunks(data: bytes, marker: str) -> Iterator[bytes]:
    """The first MiB, then a freeze: the write is under way (its temp file open) when killed."""
    yield data[:MiB]
    freeze(marker)


# --- the scenarios ---------------------------------------------------------------------------


def document_before_row(app: Flask, marker: str, args: dict) -> None:
    """The document's file stored, its row not yet committed."""
    freeze_store(app, "documents", "documents", marker, "write", r"^\d+/", after=True)
    post(app, "/api/v1/documents", args["token"], b"%PDF killed", "lost.pdf", type="invoice")


def document_mid_write(app: Flask, marker: str, args: dict) -> None:
    """The document's bytes half written into their temp file."""
    from syncapp.documents.wiring import document_store

    with app.app_context():
        data = b"x" * (3 * MiB)
        document_store().receive(args["owner_id"], slow_chunks(data, marker), "big.pdf", None)


def cloud_staged(app: Flask, marker: str, args: dict) -> None:
    """The upload received whole into `.staging/`, not yet placed as a version."""
    freeze_store(app, "cloud", "cloud", marker, "move", r"^\.staging/", after=False)
    post(app, "/api/v1/upload", args["token"], b"staged bytes", "staged.txt")


def cloud_placed(app: Flask, marker: str, args: dict) -> None:
    """The version's bytes moved into place, its row not yet committed."""
    freeze_store(app, "cloud", "cloud", marker, "move", r"^\.staging/", after=True)
    post(app, "/api/v1/upload", args["token"], b"placed bytes", "placed.txt")


def snapshot_mid_extraction(app: Flask, marker: str, args: dict) -> None:
    """A ZIP push: the payload and three members written, the rest of the extraction not."""
    from syncapp.cordiax.wiring import snapshot_store

    member = r"^\d+/[^/]+/[0-9T]+Z_[0-9a-f]{8}/"
    freeze_store(app, "cordiax", "cordiax", marker, "write", member, after=True, nth=3)
    with app.app_context():
        snapshot_store().store(args["owner_id"], "killed-pc", bytes.fromhex(args["bundle"]))


def snapshot_before_row(app: Flask, marker: str, args: dict) -> None:
    """A push whole on the store, sidecar included, its row not yet committed."""
    from syncapp.cordiax.wiring import snapshot_store

    sidecar = r"^\d+/[^/]+/[0-9T]+Z_[0-9a-f]{8}\.json$"
    freeze_store(app, "cordiax", "cordiax", marker, "write", sidecar, after=True)
    with app.app_context():
        snapshot_store().store(args["owner_id"], "killed-pc", bytes.fromhex(args["bundle"]))


def backup_staged(app: Flask, marker: str, args: dict) -> None:
    """The archive received whole into `.incoming/`, not yet moved into place."""
    freeze_store(app, "backups", "remote_backups", marker, "move", r"^\.incoming/", after=False)
    data = bytes.fromhex(args["archive"])
    post(app, "/upload", args["token"], data, "full_staged.tar.gz", type="FULL", profile="p")


def backup_before_row(app: Flask, marker: str, args: dict) -> None:
    """The archive moved into place with its sidecar, its row not yet committed."""
    freeze_store(app, "backups", "remote_backups", marker, "write", r"\.meta\.json$", after=True)
    data = bytes.fromhex(args["archive"])
    post(app, "/upload", args["token"], data, "full_placed.tar.gz", type="FULL", profile="p")


def replication_mid_upload(app: Flask, marker: str, args: dict) -> None:
    """A replication to S3 in parts: every part sent, the upload never completed."""
    from syncapp.cloud.replicator import replicate_due
    from syncapp.storage.s3 import S3Remote

    send = S3Remote._upload_part

    def sent_then_freeze(self, *a: Any, **kw: Any) -> dict:
        send(self, *a, **kw)
        freeze(marker)
        raise AssertionError("unreachable")

    S3Remote._upload_part = sent_then_freeze  # type: ignore[method-assign]
    with app.app_context():
        replicate_due(app)


def replication_before_rename(app: Flask, marker: str, args: dict) -> None:
    """A replication to Google Drive: the bytes uploaded under a temp name, not yet renamed."""
    from syncapp.cloud.replicator import replicate_due
    from syncapp.storage.gdrive import DriveRemote

    upload = DriveRemote._upload

    def uploaded_then_freeze(self, *a: Any, **kw: Any) -> dict:
        upload(self, *a, **kw)
        freeze(marker)
        raise AssertionError("unreachable")

    DriveRemote._upload = uploaded_then_freeze  # type: ignore[method-assign]
    with app.app_context():
        replicate_due(app)


SCENARIOS: dict[str, Callable[[Flask, str, dict], None]] = {
    f.__name__: f
    for f in (
        document_before_row,
        document_mid_write,
        cloud_staged,
        cloud_placed,
        snapshot_mid_extraction,
        snapshot_before_row,
        backup_staged,
        backup_before_row,
        replication_mid_upload,
        replication_before_rename,
    )
}


def main() -> None:
    settings_file, marker, scenario, arguments = sys.argv[1:5]
    app = create_app(json.loads(Path(settings_file).read_text()))
    SCENARIOS[scenario](app, marker, json.loads(Path(arguments).read_text()))
    raise SystemExit(f"{scenario} ended instead of freezing")


if __name__ == "__main__":
    main()
