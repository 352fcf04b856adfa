"""Builds the cloud files feature's services from the app: the one module of `cloud` that reads
`current_app` for them (its settings, its store's Remote). Routes, pages and the replication
runner get the store here; the conflict routes their resolver."""

from __future__ import annotations

from pathlib import Path

from flask import current_app

from ..extensions import db
from ..remotes.wiring import feature_remote
from ..settings import settings
from ..storage import Remote
from ..transfer import RetryPolicy
from .conflicts import ConflictResolver
from .store import CloudStore
from .targets import open_target


def store_remote() -> Remote:
    """The cloud file store, where every version's bytes are kept (the app's `cloud.remote`, or
    the folder `cloud.root`, default `<instance>/cloud`)."""
    return feature_remote("cloud", str(Path(current_app.instance_path) / "cloud"))


def cloud_store() -> CloudStore:
    options = settings().cloud
    return CloudStore(
        store_remote(),
        db.session,
        max_size=options.max_size,
        keep_versions=options.keep_versions,
    )


def build_resolver() -> ConflictResolver:
    retry = RetryPolicy.from_settings(settings().transfer)
    return ConflictResolver(db.session, cloud_store(), open_target, retry=retry)
