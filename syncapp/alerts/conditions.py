"""What a watched condition is: the types every feature's `<feature>/alerts.py` builds on.

A `Condition` looks at the database (and the disk) at a given `now` and yields a `Finding` for
each subject that is wrong right now: a profile whose last archive is too old, a silent device, a
store with too little space. It yields nothing for the subjects that are fine: the evaluator
(evaluator.py) resolves every firing alert of the condition's kind that the condition did not
find again. A condition that raises resolves nothing (an outage of the check is not a recovery).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .models import AlertExpectation


@dataclass(frozen=True)
class Finding:
    """One subject in trouble: the alert `key` (unique: "<kind>:<subject>") and what to show."""

    key: str
    owner_id: int | None  # None: store-wide, administrators see it
    title: str
    detail: str = ""
    link: str = ""


@dataclass
class Context:
    """What a condition reads: the clock the caller drives, the `alerts` settings section, the
    session, and the users' per-subject expectations (read once per evaluation)."""

    now: datetime
    options: Any
    session: Session
    #: the local folders syncapp stores into, by what they hold (wiring.store_folders)
    store_folders: Callable[[], dict[str, str]] = dict
    _expectations: dict[tuple[int, str, str], AlertExpectation] | None = field(
        default=None, repr=False
    )

    def expectation(self, owner_id: int, kind: str, subject: str) -> AlertExpectation | None:
        if self._expectations is None:
            rows = self.session.scalars(select(AlertExpectation))
            self._expectations = {(r.owner_id, r.kind, r.subject): r for r in rows}
        return self._expectations.get((owner_id, kind, subject))

    def end_reads(self) -> None:
        """End the read transaction before a condition reaches a remote (a NAS), so that a
        stalled server holds no database connection; what was read is read again if needed."""
        self.session.rollback()
        self._expectations = None

    def expectations(self, kind: str) -> list[AlertExpectation]:
        self.expectation(0, kind, "")  # loads them
        assert self._expectations is not None
        return [e for (_, k, _), e in self._expectations.items() if k == kind]


@dataclass(frozen=True)
class Condition:
    """A kind of alert (`Alert.kind`) and the function that finds its subjects in trouble."""

    kind: str
    find: Callable[[Context], Iterable[Finding]]


def age(now: datetime, then: datetime) -> timedelta:
    return now - then


def duration(seconds: float) -> str:
    """A limit as people say it: "26 h", "7 days", "90 min"."""
    if seconds >= 2 * 86400 and seconds % 86400 == 0:
        return f"{int(seconds // 86400)} days"
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{int(seconds // 3600)} h"
    if seconds >= 60:
        return f"{round(seconds / 60)} min"
    return f"{round(seconds)} s"


def pick(override: Any, default: Any) -> Any:
    """An expectation's column over the settings' default (None keeps the default)."""
    return default if override is None else override
