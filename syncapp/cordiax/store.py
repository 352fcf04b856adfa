"""Builds the app's SnapshotStore from the settings (web-layer glue, kept out of snapshots.py)."""

from __future__ import annotations

from pathlib import Path

from flask import current_app

from ..extensions import db
from ..remotes.catalog import feature_remote
from .snapshots import Limits, SnapshotStore


def snapshot_store() -> SnapshotStore:
    options = current_app.config["SYNCAPP"]["cordiax"]
    limits = Limits(
        max_size=options["max_snapshot_size"], allow_plaintext=options["allow_plaintext"]
    )
    remote = feature_remote("cordiax", str(Path(current_app.instance_path) / "cordiax"))
    return SnapshotStore(remote, db.session, limits)
