"""The evaluator's guarantees beyond one condition: two evaluators moving the same alert write
one transition, a condition that fails resolves nothing, and the transitions carry what the
notifications need (owner, title, detail, link, time)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, select

from syncapp.alerts.conditions import Condition, Finding
from syncapp.alerts.evaluator import Evaluator
from syncapp.alerts.models import Alert, AlertTransition
from syncapp.extensions import db
from syncapp.settings import settings
from syncapp.timeutil import utcnow

KEY = "free_space:test"


def _evaluator(find) -> Evaluator:
    return Evaluator(db.session, settings().alerts, [Condition("free_space", find)])


def _found(_ctx):
    yield Finding(key=KEY, owner_id=None, title="Low", detail="1 B left", link="/alerts")


def _nothing(_ctx):
    return []


def _broken(_ctx):
    raise OSError("the disk did not answer")


def test_two_evaluators_moving_the_same_alert_write_one_transition(app):
    now = utcnow()
    with app.app_context():
        assert _evaluator(_found).evaluate(now).fired == [KEY]
        alert_id = db.session.scalar(select(Alert.id).where(Alert.key == KEY))
        # both read "firing"; the first to write resolves it, the second finds it moved
        first, second = _evaluator(_nothing), _evaluator(_nothing)
        assert first._move(alert_id, "firing", "resolved", now, None) is True
        assert second._move(alert_id, "firing", "resolved", now, None) is False
        # and a second creation of the same key is refused by its uniqueness
        db.session.execute(delete(AlertTransition))
        db.session.commit()
        assert first._create("free_space", next(_found(None)), now) is False
        states = db.session.scalars(select(AlertTransition.state)).all()
        assert states == []  # nothing was written by the refused creation


def test_a_failing_condition_resolves_nothing(app):
    now = utcnow()
    with app.app_context():
        _evaluator(_found).evaluate(now)
        summary = _evaluator(_broken).evaluate(now + timedelta(minutes=1))
        assert summary.failed == ["free_space"] and summary.resolved == []
        assert db.session.scalar(select(Alert.state).where(Alert.key == KEY)) == "firing"


def test_transitions_carry_what_a_notification_needs(app):
    now = utcnow()
    with app.app_context():
        _evaluator(_found).evaluate(now)
        _evaluator(_nothing).evaluate(now + timedelta(minutes=5))
        rows = db.session.scalars(select(AlertTransition).order_by(AlertTransition.id)).all()
        assert [(r.state, r.owner_id, r.title, r.detail, r.link) for r in rows] == [
            ("firing", None, "Low", "1 B left", "/alerts"),
            ("resolved", None, "Low", "1 B left", "/alerts"),
        ]
        assert rows[1].at - rows[0].at == timedelta(minutes=5)
