"""Refused Cordiax clients, kept for the administrator (GET /api/v1/cordiax/refused, /cordiax).

The desktop client never displays `sync_error`: a wrong token looks like success to its user,
so the server must make every refusal visible. One row per (address, device, reason), counted,
and only the most recent `KEEP` rows: a client retrying for days, or many addresses, cannot
grow the table without bound.
"""

from __future__ import annotations

import logging

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from ..timeutil import utcnow
from .models import CordiaxRefusal

log = logging.getLogger(__name__)

KEEP = 200


def record_refusal(
    session: Session,
    *,
    address: str | None,
    device: str | None,
    reason: str,
    message: str,
    user_id: int | None = None,
) -> None:
    """Counts one refusal; a database that fails here only loses the record, never the answer."""
    key = {
        "address": (address or "unknown")[:64],
        "device": (device or "")[:64],
        "reason": reason[:64],
    }
    try:
        for _attempt in range(2):  # a concurrent first insert of the same key: update it then
            row = session.scalar(select(CordiaxRefusal).filter_by(**key))
            now = utcnow()
            if row is None:
                row = CordiaxRefusal(**key, count=0, first_at=now, user_id=user_id)
                session.add(row)
            row.count += 1
            row.last_at, row.message = now, message
            row.user_id = user_id if user_id is not None else row.user_id
            try:
                session.commit()
                break
            except IntegrityError:
                session.rollback()
        _prune(session)
    except SQLAlchemyError:
        session.rollback()
        log.warning("could not record a refused Cordiax client", exc_info=True)


def _prune(session: Session) -> None:
    stale = select(CordiaxRefusal.id).order_by(CordiaxRefusal.last_at.desc()).offset(KEEP)
    ids = list(session.scalars(stale))
    if ids:
        session.execute(delete(CordiaxRefusal).where(CordiaxRefusal.id.in_(ids)))
        session.commit()


def recent_refusals(session: Session, limit: int = KEEP) -> list[CordiaxRefusal]:
    return list(
        session.scalars(select(CordiaxRefusal).order_by(CordiaxRefusal.last_at.desc()).limit(limit))
    )
