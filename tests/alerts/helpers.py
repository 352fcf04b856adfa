"""Driving the alerts' evaluator with the test's clock, and reading what it wrote."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

from sqlalchemy import select

from syncapp.alerts.models import Alert, AlertTransition
from syncapp.alerts.wiring import evaluator
from syncapp.extensions import db
from syncapp.settings import settings
from syncapp.timeutil import utcnow


def evaluate(app, now: datetime | None = None, **options) -> dict[str, list[str]]:
    """One evaluation at `now` (default: the real time), with `alerts` settings replaced by
    `options` (the thresholds a test drives)."""
    with app.app_context():
        section = dataclasses.replace(settings().alerts, **options)
        return evaluator(section).evaluate(now or utcnow()).as_dict()


def alert(app, key: str) -> dict | None:
    with app.app_context():
        found = db.session.scalar(select(Alert).where(Alert.key == key))
        if found is None:
            return None
        return {c.name: getattr(found, c.name) for c in Alert.__table__.columns}


def transitions(app, key: str) -> list[str]:
    """The states of the key's transitions, oldest first."""
    with app.app_context():
        return list(
            db.session.scalars(
                select(AlertTransition.state)
                .join(Alert, Alert.id == AlertTransition.alert_id)
                .where(Alert.key == key)
                .order_by(AlertTransition.id)
            )
        )


def firing_keys(app, kind: str | None = None) -> set[str]:
    with app.app_context():
        query = select(Alert.key).where(Alert.state == "firing")
        if kind is not None:
            query = query.where(Alert.kind == kind)
        return set(db.session.scalars(query))


def backdate(app, model, column, by: timedelta) -> None:
    """Every row of `model` arrived `by` earlier than it did: the time a real client took."""
    with app.app_context():
        for row in db.session.scalars(select(model)):
            setattr(row, column, getattr(row, column) - by)
        db.session.commit()
