"""Builds the app's SnapshotStore from the settings (web-layer glue, kept out of snapshots.py),
and counts what each user keeps in it towards their quota (syncapp/quotas.py)."""

from __future__ import annotations

from pathlib import Path

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..errors import InsufficientStorage
from ..extensions import db
from ..quotas import check_quota, register_usage
from ..remotes.wiring import feature_remote
from .models import CordiaxSnapshot
from .snapshots import Limits, SnapshotRefused, SnapshotStore


def snapshot_usage(session: Session, user_id: int) -> int:
    """Bytes of the snapshots `user_id` keeps (as pushed; see docs/security.md on ZIPs)."""
    return session.scalar(
        select(func.coalesce(func.sum(CordiaxSnapshot.size), 0)).where(
            CordiaxSnapshot.user_id == user_id
        )
    )


register_usage("cordiax", snapshot_usage)


def check_snapshot_quota(user_id: int, adding: int) -> None:
    """The store's quota hook: a push over the user's quota is a refusal (sync_error
    `quota_exceeded`), like any other push that is not kept."""
    try:
        check_quota(db.session, user_id, adding)
    except InsufficientStorage as exc:
        raise SnapshotRefused("quota_exceeded", exc.message) from None


def snapshot_store() -> SnapshotStore:
    options = current_app.config["SYNCAPP"]["cordiax"]
    limits = Limits(
        max_size=options["max_snapshot_size"], allow_plaintext=options["allow_plaintext"]
    )
    remote = feature_remote("cordiax", str(Path(current_app.instance_path) / "cordiax"))
    return SnapshotStore(remote, db.session, limits, quota=check_snapshot_quota)
