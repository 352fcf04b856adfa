"""Live events of alerts on /events: a change of state, to the owner's sessions and to
administrators (a store-wide alert: to administrators only)."""

from __future__ import annotations

from ..events import publish
from ..timeutil import isoformat
from .models import Alert, AlertTransition


def alert_changed(alert: Alert, transition: AlertTransition) -> None:
    payload = {
        "id": alert.id,
        "kind": alert.kind,
        "state": transition.state,
        "title": alert.title,
        "link": alert.link,
        "at": isoformat(transition.at),
    }
    if alert.owner_id is None:
        # no user has id 0 (ids start at 1): the event reaches administrators only
        publish("alert_changed", payload, user_id=0, admins=True)
    else:
        publish("alert_changed", payload, user_id=alert.owner_id, admins=True)
