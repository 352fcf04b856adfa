"""Builds the restic feature's services from the app: the one module of `restic` that reads
`current_app` (its settings, the stores its repositories live on)."""

from __future__ import annotations

from pathlib import Path

from flask import current_app

from ..extensions import db
from ..failures import NotFound
from ..remotes.catalog import open_for_user
from ..remotes.models import StoredRemote
from ..remotes.wiring import feature_remote
from ..settings import settings
from ..storage import Remote
from .store import RepoRef, ResticStore


def default_remote() -> Remote:
    """Where repositories without a remote of their own live (`restic.remote` / `restic.root`)."""
    return feature_remote("restic", str(Path(current_app.instance_path) / "restic"))


def repository_remote(repo: RepoRef) -> Remote:
    """The store of one repository: its own stored remote (opened once per app), else the
    feature's. Call it before a transaction ends: opening a stored one reads its row."""
    if repo.remote_id is None:
        return default_remote()
    return remote_by_id(repo.remote_id)


def remote_by_id(remote_id: int) -> Remote:
    """A stored remote repositories live on, opened once per app (the scrub reads through it
    too); reads its row the first time."""
    cache = current_app.extensions.setdefault("syncapp.restic_remotes", {})
    if remote_id not in cache:
        stored = db.session.get(StoredRemote, remote_id)
        if stored is None:
            raise NotFound("The repository's stored remote is gone.", code="unknown_remote")
        cache[remote_id] = open_for_user(stored)
    return cache[remote_id]


def restic_store() -> ResticStore:
    options = settings().restic
    return ResticStore(
        db.session,
        repository_remote,
        append_only_default=options.append_only_default,
        repository_quota=options.repository_quota,
    )


def create_on_init() -> bool:
    return settings().restic.create_on_init


def rate_limit() -> str:
    """The limit on each caller's requests to /restic/ and /api/v1/restic (`ratelimit.restic`)."""
    return settings().ratelimit.restic
