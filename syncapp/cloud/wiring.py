"""Builds the cloud files feature's services from the app: the one module of `cloud` that reads
`current_app` for them (its settings, its store's Remote). Routes, pages and the replication
runner get the store here; the conflict routes their resolver."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import current_app

from ..extensions import db
from ..remotes.wiring import feature_remote
from ..storage import Remote
from ..transfer import RetryPolicy
from .conflicts import ConflictResolver
from .store import CloudStore
from .targets import open_target


def options() -> dict[str, Any]:
    """The `cloud` settings section."""
    return current_app.config["SYNCAPP"]["cloud"]


def google_options() -> dict[str, Any]:
    """The `google` settings section (the OAuth client behind Google Drive targets)."""
    return current_app.config["SYNCAPP"]["google"]


def store_remote() -> Remote:
    """The cloud file store, where every version's bytes are kept (the app's `cloud.remote`, or
    the folder `cloud.root`, default `<instance>/cloud`)."""
    return feature_remote("cloud", str(Path(current_app.instance_path) / "cloud"))


def cloud_store() -> CloudStore:
    settings = options()
    return CloudStore(
        store_remote(),
        db.session,
        max_size=settings["max_size"],
        keep_versions=settings["keep_versions"],
    )


def build_resolver() -> ConflictResolver:
    retry = RetryPolicy.from_settings(current_app.config["SYNCAPP"]["transfer"])
    return ConflictResolver(db.session, cloud_store(), open_target, retry=retry)
