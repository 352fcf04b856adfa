"""Which Cordiax devices are connected now and when each was last heard from (the Cordiax page's
"online / last seen", issue 22).

The namespace calls `arrived`, `heard` and `left`; each is one atomic UPDATE (an INSERT the first
time), so several server processes count one device's connections without losing any. A process
that dies leaves its count behind: a device counts as online only while it was also heard from
recently (the server asks each connected client for its data every
`cordiax.sync_request_interval` seconds, and every answer is `heard`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..timeutil import utcnow
from .models import CordiaxPresence

#: how many request intervals a connected device may stay silent and still count as online
SILENT_INTERVALS = 2
#: ... plus this margin (a push in flight, a slow client)
SILENCE_MARGIN = timedelta(seconds=60)


@dataclass(frozen=True)
class Presence:
    online: bool
    last_seen_at: datetime
    connected_at: datetime | None
    address: str | None


def _change(
    session: Session, user_id: int, device: str, by: int, address: str | None = None
) -> None:
    now = utcnow()
    values: dict = {"last_seen_at": now}
    if by:  # leaving: one fewer, put back to zero below if it went under
        values["connections"] = CordiaxPresence.connections + by
    if by > 0:
        values.update(connected_at=now, address=address)
    where = (CordiaxPresence.user_id == user_id, CordiaxPresence.device == device)
    changed = session.execute(update(CordiaxPresence).where(*where).values(**values)).rowcount
    if not changed:
        try:
            with session.begin_nested():
                session.add(
                    CordiaxPresence(
                        user_id=user_id,
                        device=device,
                        connections=max(by, 0),
                        address=address,
                        connected_at=now if by > 0 else None,
                        last_seen_at=now,
                    )
                )
        except IntegrityError:  # another process inserted it meanwhile: update theirs
            session.execute(update(CordiaxPresence).where(*where).values(**values))
    if by < 0:
        session.execute(
            update(CordiaxPresence)
            .where(*where, CordiaxPresence.connections < 0)
            .values(connections=0)
        )
    session.commit()


def arrived(session: Session, user_id: int, device: str, address: str | None) -> None:
    _change(session, user_id, device, 1, address)


def heard(session: Session, user_id: int, device: str) -> None:
    _change(session, user_id, device, 0)


def left(session: Session, user_id: int, device: str) -> None:
    _change(session, user_id, device, -1)


def presences(
    session: Session, owner_id: int | None, request_interval: int, now: datetime | None = None
) -> dict[tuple[int, str], Presence]:
    """(user id, device) -> its presence: one user's devices, or everyone's (owner_id None)."""
    now = now or utcnow()
    quiet_since = now - SILENT_INTERVALS * timedelta(seconds=request_interval) - SILENCE_MARGIN
    query = select(CordiaxPresence)
    if owner_id is not None:
        query = query.where(CordiaxPresence.user_id == owner_id)
    return {
        (row.user_id, row.device): Presence(
            online=row.connections > 0 and row.last_seen_at >= quiet_since,
            last_seen_at=row.last_seen_at,
            connected_at=row.connected_at,
            address=row.address,
        )
        for row in session.scalars(query)
    }
