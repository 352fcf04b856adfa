"""Builds the Cordiax feature's services from the app: the one module of `cordiax` that reads
`current_app` for them. The SnapshotStore (its settings, its Remote, the quota hook that turns
a push over the user's quota into a refusal), the limit on pushes stored at once, and share
pollers run with the app's stored remotes (`poll_now`, the scheduler's `run_due_pollers`).
Routes, the Socket.IO namespace, pages and the scheduler get them here."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from flask import current_app
from sqlalchemy import select

from .. import memory
from ..extensions import db
from ..failures import DomainError, InsufficientStorage
from ..quotas import check_quota
from ..remotes.catalog import open_granted
from ..remotes.wiring import feature_remote
from ..settings import settings
from ..storage import RemoteError
from ..timeutil import utcnow
from . import live
from .models import CordiaxPoller
from .pollers import ConnectionCheck, check_connection, is_due, poll, release
from .push_gate import PushGate
from .requester import SyncRequester
from .snapshots import Limits, SnapshotRefused, SnapshotStore


def check_snapshot_quota(user_id: int, adding: int) -> None:
    """The store's quota hook: a push over the user's quota is a refusal (sync_error
    `quota_exceeded`), like any other push that is not kept."""
    try:
        check_quota(db.session, user_id, adding)
    except InsufficientStorage as exc:
        raise SnapshotRefused("quota_exceeded", exc.message) from None


def snapshot_store() -> SnapshotStore:
    options = settings().cordiax
    limits = Limits(max_size=options.max_snapshot_size, allow_plaintext=options.allow_plaintext)
    remote = feature_remote("cordiax", str(Path(current_app.instance_path) / "cordiax"))
    return SnapshotStore(remote, db.session, limits, quota=check_snapshot_quota)


def push_gate() -> PushGate:
    """This app's bound on pushes stored at once and waiting (cordiax.max_concurrent_pushes,
    max_waiting_push_bytes, push_wait)."""
    gate = current_app.extensions.get("syncapp.cordiax_push_gate")
    if gate is None:
        options = settings().cordiax
        gate = current_app.extensions.setdefault(
            "syncapp.cordiax_push_gate",
            PushGate(
                options.max_concurrent_pushes,
                int(options.max_waiting_push_bytes),
                options.push_wait,
                # after a burst of pushes, the freed pieces of their messages go back to the
                # system instead of holding the burst's high-water mark (memory.py)
                on_idle=memory.trimmer.request,
            ),
        )
    return gate


def sync_requester(send: Callable[[str], None]) -> SyncRequester:
    """This app's SyncRequester (one per process), made with the first connection: it asks
    connected clients to push every `cordiax.sync_request_interval` seconds through `send`."""
    requester = current_app.extensions.get("syncapp.cordiax_requester")
    if requester is None:
        interval = settings().cordiax.sync_request_interval
        requester = current_app.extensions.setdefault(
            "syncapp.cordiax_requester", SyncRequester(send, interval)
        )
    return requester


# --- share pollers: the app's stored remotes and snapshot store -------------------------------


def poll_now(poller: CordiaxPoller) -> CordiaxPoller:
    """Poll with the app's stored remote and snapshot store (inside an app context)."""
    return poll(
        poller,
        open_source=lambda: open_granted(poller.remote_id, poller.user_id, "cordiax"),
        open_store=snapshot_store,
        session=db.session,
        notify=live.poll_result,
    )


def connection_check(poller: CordiaxPoller) -> ConnectionCheck:
    try:
        remote = open_granted(poller.remote_id, poller.user_id, "cordiax")
    except (RemoteError, DomainError, ValueError) as exc:
        return ConnectionCheck(False, str(getattr(exc, "message", exc)))
    with remote:
        release(db.session, poller)  # reads only: nothing of the request's is left to commit
        try:
            return check_connection(remote, poller)
        finally:
            db.session.add(poller)


def run_due_pollers(now: datetime | None = None) -> list[int]:
    """The scheduler's job: poll every enabled poller whose interval has passed; their ids."""
    now = now or utcnow()
    pollers = db.session.scalars(
        select(CordiaxPoller).where(CordiaxPoller.enabled.is_(True)).order_by(CordiaxPoller.id)
    ).all()
    ran = []
    for poller in pollers:
        if is_due(poller, now):
            poll_now(poller)
            ran.append(poller.id)
    return ran


def poller_owners(poller_ids: list[int]) -> set[int]:
    """The owners of these pollers (whose alerts a poll may end)."""
    if not poller_ids:
        return set()
    query = select(CordiaxPoller.user_id).where(CordiaxPoller.id.in_(poller_ids))
    return set(db.session.scalars(query))


def sweep_debris(now: datetime | None = None) -> list[str]:
    """The scheduler's cordiax.debris job: versions killed pushes left without a row (finished
    from their sidecar, or removed) and temp files, older than debris.min_age."""
    cutoff = (now or utcnow()) - timedelta(seconds=settings().debris.min_age)
    return snapshot_store().sweep_debris(older_than=cutoff)
