"""Builds the cloud files feature's services from the app: the one module of `cloud` that reads
`current_app` for them (its settings, its store's Remote). Routes, pages and the replication
runner get the store here; the conflict routes their resolver."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from flask import current_app

from ..extensions import db
from ..remotes.wiring import feature_remote
from ..settings import settings
from ..storage import Remote
from ..timeutil import utcnow
from ..transfer import RetryPolicy
from .conflicts import ConflictResolver
from .debris import sweep_targets
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


def sweep_debris(now: datetime | None = None) -> list[str]:
    """The scheduler's cloud.debris job: what killed uploads left in the store and killed
    replications in the clouds, older than debris.min_age."""
    configured = settings()
    cutoff = (now or utcnow()) - timedelta(seconds=configured.debris.min_age)
    removed = cloud_store().sweep_debris(older_than=cutoff)
    return removed + sweep_targets(
        db.session, open_target, folder=configured.cloud.folder, older_than=cutoff
    )
