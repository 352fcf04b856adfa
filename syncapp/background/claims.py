"""Claimable work: rows that one worker at a time takes, holds for a lease, and gives back.

Sync jobs (`syncs/engine.JOB_CLAIMS`) and cloud copies (`cloud/replicator.copy_claims`) are both
such rows; this module is the mechanism, the features say which columns record a claim.

- **Claim**: a conditional UPDATE that sets the claim only where the row is free, then commits;
  an updated row count of 1 means this worker has it. Two workers never both win, in any thread,
  process or host: SQLite lets one writer at a time, and PostgreSQL (read committed) makes the
  second UPDATE wait for the first's row lock, then evaluates its WHERE again on the row as the
  first committed it, which no longer matches.
- **Lease and heartbeat**: a claim lasts until its lease column's time; its holder renews it
  (`renew`) while its work moves, so a live claim never looks abandoned.
- **Recovery**: a claim whose lease ran out, or (when the table records who holds it) whose
  holder is a process of this host that has ended, is given back (`recover`), and the row can be
  claimed again.
- **Backoff** (`backoff`): the delay before a failed piece of work is tried again.

Every change a holder makes to its claimed rows goes through `update_held`, a conditional
UPDATE too, so a claim taken back meanwhile is left alone. Only `claim` commits (a claim is one
once it is committed); the other calls leave the commit to the caller, who usually records more
in the same transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, inspect, or_, select, update
from sqlalchemy.orm import InstrumentedAttribute, Session

from ..storage.base import owner_is_dead
from ..timeutil import utcnow


def backoff(attempts: int, first: float, cap: float) -> float:
    """Seconds to wait after the `attempts`-th consecutive failure: `first`, doubled per
    failure, at most `cap`."""
    # the exponent is bounded: after days of failures, 2 ** n would not convert to a float
    return min(cap, first * 2 ** min(max(attempts, 1) - 1, 64))


class Claims:
    """How one table records claims, and the statements that take, renew and give them back.

    - `lease_until`: the column holding the time the claim ends unless renewed;
    - `held`: the condition "someone holds this row";
    - `free(now)`: the condition "this row may be claimed now";
    - `holder`: the column naming who holds a claim (an `owner_tag`), if the table has one;
    - `taken`: other values a claim sets (a state column, say);
    - `released`: the values that give a claim back (besides what the caller adds).
    """

    def __init__(
        self,
        model: type,
        *,
        lease: timedelta,
        lease_until: InstrumentedAttribute,
        held: ColumnElement[bool],
        free: Callable[[datetime], ColumnElement[bool]],
        holder: InstrumentedAttribute | None = None,
        taken: Mapping[str, Any] | None = None,
        released: Mapping[str, Any] | None = None,
    ) -> None:
        self.model = model
        self.id = inspect(model).primary_key[0]
        self.lease = lease
        self.lease_until = lease_until
        self.held = held
        self.free = free
        self.holder = holder
        self.taken = dict(taken or {})
        self.released = dict(released or {})

    def claim(
        self,
        session: Session,
        row_id: Any,
        holder: str | None = None,
        *,
        now: datetime | None = None,
    ) -> bool:
        """Take the row if it is free; commits. True when this caller has it now."""
        now = now or utcnow()
        values = {**self.taken, self.lease_until.key: now + self.lease}
        if self.holder is not None:
            values[self.holder.key] = holder
        taken = self._update(session, (self.id == row_id, self.free(now)), values)
        session.commit()
        return bool(taken)

    def holding(self, holder: str | None = None) -> ColumnElement[bool]:
        """The rows claimed by `holder` (by anyone when the table records no holder)."""
        if self.holder is None:
            return self.held
        return self.held & (self.holder == holder)

    def update_held(
        self, session: Session, *where: Any, holder: str | None = None, **values: Any
    ) -> int:
        """Change rows only while `holder` still holds them; the number changed."""
        return self._update(session, (self.holding(holder), *where), values)

    def renew(
        self,
        session: Session,
        row_ids: list[Any],
        holder: str | None = None,
        *,
        now: datetime | None = None,
        **values: Any,
    ) -> int:
        """The heartbeat: push the lease of the rows still held one lease further (with
        `values` set alongside); the number renewed, fewer when a claim was taken back."""
        if not row_ids:
            return 0
        values[self.lease_until.key] = (now or utcnow()) + self.lease
        return self.update_held(session, self.id.in_(row_ids), holder=holder, **values)

    def release(
        self, session: Session, row_id: Any, holder: str | None = None, **values: Any
    ) -> int:
        """Give a claim back (with `values` set alongside), if `holder` still holds it."""
        values = {**self.released, **values}
        return self.update_held(session, self.id == row_id, holder=holder, **values)

    def abandoned(self, session: Session, *, now: datetime | None = None) -> list[Any]:
        """The claimed rows whose lease ran out or whose holder has ended."""
        return sorted(self._abandoned(session, now or utcnow())[0])

    def recover(self, session: Session, *, now: datetime | None = None, **values: Any) -> list[Any]:
        """Give back the abandoned claims, setting `values` alongside; the rows given back.
        A claim renewed between the look and the UPDATE keeps its holder."""
        now = now or utcnow()
        row_ids, dead = self._abandoned(session, now)
        if row_ids:
            still = self._ran_out(now)
            if dead:
                still = or_(still, self.holder.in_(dead))  # type: ignore[union-attr]
            where = (self.id.in_(row_ids), self.held, still)
            self._update(session, where, {**self.released, **values})
        return sorted(row_ids)

    def _ran_out(self, now: datetime) -> ColumnElement[bool]:
        return or_(self.lease_until.is_(None), self.lease_until < now)

    def _abandoned(self, session: Session, now: datetime) -> tuple[set[Any], set[str]]:
        """(row ids, holders found dead): whether a holder lives is asked of this host's
        processes, not of the database."""
        if self.holder is None:
            ran_out = select(self.id).where(self.held, self._ran_out(now))
            return set(session.scalars(ran_out)), set()
        row_ids: set[Any] = set()
        dead: set[str] = set()
        rows = session.execute(select(self.id, self.holder, self.lease_until).where(self.held))
        for row_id, holder, until in rows:
            if holder is not None and owner_is_dead(holder):
                dead.add(holder)
                row_ids.add(row_id)
            elif until is None or until < now:
                row_ids.add(row_id)
        return row_ids, dead

    def _update(self, session: Session, where: tuple, values: Mapping[str, Any]) -> int:
        statement = (
            update(self.model)
            .where(*where)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        return session.execute(statement).rowcount
