"""Which alerts a user sees: their own; an administrator also the store-wide ones and every
user's (as the pages show everyone's things to administrators). Routes, pages, the banner and the
Prometheus gauges read them here."""

from __future__ import annotations

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from ..auth.models import User
from .models import Alert, AlertTransition


def visible(user: User, query: Select | None = None) -> Select:
    """`query` (all alerts by default) narrowed to what `user` may see."""
    query = query if query is not None else select(Alert)
    if user.is_admin:
        return query
    return query.where(Alert.owner_id == user.id)


def list_alerts(
    session: Session,
    user: User,
    *,
    state: str | None = None,
    kind: str | None = None,
    owner_id: int | None = None,
    store_wide: bool = False,
) -> list[Alert]:
    """Newest change first; `ok` alerts (nothing to say) are left out unless asked for."""
    query = visible(user)
    if state is not None:
        query = query.where(Alert.state == state)
    else:
        query = query.where(Alert.state != "ok")
    if kind is not None:
        query = query.where(Alert.kind == kind)
    if owner_id is not None:
        query = query.where(Alert.owner_id == owner_id)
    elif store_wide:
        query = query.where(Alert.owner_id.is_(None))
    return list(session.scalars(query.order_by(Alert.changed_at.desc(), Alert.id.desc())))


def firing(session: Session, user: User) -> list[Alert]:
    """What fires that `user` may see, oldest first (the banner names the first)."""
    query = visible(user).where(Alert.state == "firing")
    return list(session.scalars(query.order_by(Alert.first_seen_at, Alert.id)))


def find(session: Session, user: User, alert_id: int) -> Alert | None:
    """The alert if `user` may see it; None otherwise (the route's 404)."""
    return session.scalar(visible(user).where(Alert.id == alert_id))


def history(session: Session, alert_id: int, limit: int = 200) -> list[AlertTransition]:
    return list(
        session.scalars(
            select(AlertTransition)
            .where(AlertTransition.alert_id == alert_id)
            .order_by(AlertTransition.id.desc())  # the order of the changes
            .limit(limit)
        )
    )
