"""Reading deliveries for the API and the settings page (the outbox writes them)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..alerts.models import AlertTransition
from .models import NotificationDelivery, NotificationTarget

#: what a user who is not an administrator is told of a failed send: why it failed (refused,
#: timed out, connection refused, an HTTP status) would tell which ports of which hosts answer
#: the server (docs/security.md, SSRF); administrators and the server log have the reason
NOT_DELIVERED = "Could not deliver the message (an administrator sees why)."


def shown_error(error: str | None, admin: bool) -> str | None:
    """A delivery's or a test's failure as the caller may read it."""
    if error is None or admin:
        return error
    return NOT_DELIVERED


def recent(
    session: Session,
    owner_id: int,
    *,
    status: str | None = None,
    limit: int = 100,
    admin: bool = False,
) -> list[dict[str, Any]]:
    """The newest deliveries to `owner_id`'s targets; failures in full for an `admin` caller."""
    query = (
        select(NotificationDelivery, NotificationTarget.name, AlertTransition)
        .join(NotificationTarget, NotificationTarget.id == NotificationDelivery.target_id)
        .join(AlertTransition, AlertTransition.id == NotificationDelivery.transition_id)
        .where(NotificationDelivery.owner_id == owner_id)
        .order_by(NotificationDelivery.id.desc())
        .limit(limit)
    )
    if status:
        query = query.where(NotificationDelivery.status == status)
    return [
        {
            "id": delivery.id,
            "target_id": delivery.target_id,
            "target_name": name,
            "transition_id": transition.id,
            "alert_id": transition.alert_id,
            "state": transition.state,
            "title": transition.title,
            "status": delivery.status,
            "attempts": delivery.attempts,
            "next_attempt_at": delivery.next_attempt_at,
            "delivered_at": delivery.delivered_at,
            "last_error": shown_error(delivery.last_error, admin),
            "created_at": delivery.created_at,
        }
        for delivery, name, transition in session.execute(query)
    ]
