"""Reading deliveries for the API and the settings page (the outbox writes them)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..alerts.models import AlertTransition
from .models import NotificationDelivery, NotificationTarget


def recent(
    session: Session, owner_id: int, *, status: str | None = None, limit: int = 100
) -> list[dict[str, Any]]:
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
            "last_error": delivery.last_error,
            "created_at": delivery.created_at,
        }
        for delivery, name, transition in session.execute(query)
    ]
