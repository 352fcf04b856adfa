"""Builds the alerts feature's services from the app: the one module of `alerts` that reads
`current_app` (its settings section, the instance folder, the stores' folders). Routes, pages, the
scheduler's job and the Prometheus gauges get the evaluator and the visible alerts here."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from flask import current_app
from sqlalchemy import select

from ..backups.wiring import archive_remote
from ..cloud.wiring import store_remote
from ..cordiax.wiring import snapshot_store
from ..documents.wiring import document_store
from ..extensions import db
from ..settings import settings
from ..storage.local import LocalRemote
from ..timeutil import utcnow
from . import live
from .evaluator import Evaluator
from .models import Alert
from .registry import CONDITIONS


def evaluator(options=None) -> Evaluator:
    """The evaluator over every feature's conditions, with the `alerts` settings (or `options`,
    a replacement of that section: tests drive the thresholds)."""
    return Evaluator(
        db.session,
        options or settings().alerts,
        CONDITIONS,
        store_folders=store_folders,
        on_change=live.alert_changed,
    )


def evaluate(now: datetime | None = None) -> object:
    """The scheduler's alerts.evaluate job: every condition at `now` (the clock tests drive)."""
    return evaluator().evaluate(now or utcnow())


def store_folders() -> dict[str, str]:
    """The local folders syncapp stores into, by what they hold (a store on a remote has no
    free space of ours to watch): the instance folder and each feature's store."""
    folders = {"instance": str(Path(current_app.instance_path))}
    for name, opener in (
        ("backups", archive_remote),
        ("cordiax", lambda: snapshot_store().remote),
        ("documents", lambda: document_store().remote),
        ("cloud", store_remote),
    ):
        try:
            remote = opener()
        except Exception:  # a misconfigured store is its feature's error, not a space problem
            current_app.logger.warning("alerts: cannot open the %s store", name, exc_info=True)
            continue
        if isinstance(remote, LocalRemote):
            folders[name] = str(remote.root)
    return folders


def check_leader() -> None:
    """A follower's look at the leader, at most once per `alerts.interval` per process: the
    leader's own evaluation cannot notice that nobody leads (it is what stops running), so the
    pages do, when someone looks. Only the scheduler_leader condition is evaluated here."""
    options = settings().alerts
    now = utcnow()
    last = current_app.extensions.get("syncapp.alerts_leader_checked")
    if not options.interval or (last and (now - last).total_seconds() < options.interval):
        return
    current_app.extensions["syncapp.alerts_leader_checked"] = now
    try:
        evaluator(options).evaluate(now, kinds=("scheduler_leader",))
    except Exception:  # a page is never refused for a check of this kind
        db.session.rollback()
        current_app.logger.warning("alerts: the leader check failed", exc_info=True)


def recheck(kind: str, owner_id: int) -> None:
    """After an event that may end an owner's alert of `kind` (a backup arrived): evaluate that
    kind at once if the owner has one firing, so the banner goes away with the upload rather than
    at the next evaluation. One indexed query when nothing fires; never fails the caller."""
    try:
        firing = db.session.scalar(
            select(Alert.id)
            .where(Alert.kind == kind, Alert.owner_id == owner_id, Alert.state == "firing")
            .limit(1)
        )
        if firing is not None:
            evaluator().evaluate(utcnow(), kinds=(kind,))
    except Exception:  # the evaluation job will see it within alerts.interval
        db.session.rollback()
        current_app.logger.warning("alerts: could not re-evaluate %s", kind, exc_info=True)
