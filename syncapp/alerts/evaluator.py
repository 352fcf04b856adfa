"""Moves alerts between their states from what the conditions find (conditions.py).

At each evaluation, for each condition's kind:
- a subject found in trouble whose alert is absent, `ok` or `resolved` fires: `state` firing,
  `first_seen_at` now, one `AlertTransition` "firing";
- a firing alert whose subject was not found again resolves: `resolved_at` now, one transition
  "resolved";
- a firing alert found again stays as it is (its title and detail follow the condition, which
  writes no transition): one transition per real change, never one per evaluation.

Each change commits on its own, the alert's row and its transition together, so the transition
table is an outbox the notifications can trust. The state moves with a conditional UPDATE
(`WHERE state = <what was read>`), and a new alert's key is unique: two evaluators running at
once (the leader's job and a prompt re-evaluation elsewhere) write one transition, not two.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .conditions import Condition, Context, Finding
from .models import Alert, AlertTransition

log = logging.getLogger(__name__)


@dataclass
class Summary:
    """What one evaluation did: keys fired and resolved, and kinds whose check failed."""

    fired: list[str] = field(default_factory=list)
    resolved: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, list[str]]:
        return {"fired": self.fired, "resolved": self.resolved, "failed": self.failed}


#: called after each committed change with the alert and its transition (live events)
OnChange = Callable[[Alert, AlertTransition], None]


class Evaluator:
    def __init__(
        self,
        session: Session,
        options: Any,
        conditions: Sequence[Condition],
        *,
        store_folders: Callable[[], dict[str, str]] = dict,
        on_change: OnChange | None = None,
    ) -> None:
        self.session = session
        self.options = options
        self.conditions = conditions
        self.store_folders = store_folders
        self.on_change = on_change

    def evaluate(self, now: datetime, kinds: Iterable[str] | None = None) -> Summary:
        """Every condition (or those of `kinds`) at `now`; the alerts moved accordingly."""
        wanted = set(kinds) if kinds is not None else None
        ctx = Context(now, self.options, self.session, store_folders=self.store_folders)
        summary = Summary()
        found: dict[str, dict[str, Finding]] = {}
        for condition in self.conditions:
            if wanted is not None and condition.kind not in wanted:
                continue
            try:
                findings = {f.key: f for f in condition.find(ctx)}
            except Exception:
                # A check that fails proves nothing: its alerts keep their state.
                log.exception("alert condition %s could not be evaluated", condition.kind)
                self.session.rollback()
                ctx.end_reads()
                summary.failed.append(condition.kind)
                continue
            found.setdefault(condition.kind, {}).update(findings)
        self.session.rollback()  # the reads end here; each change below is its own transaction
        for kind, findings in found.items():
            self._apply(kind, findings, now, summary)
        return summary

    def _apply(
        self, kind: str, findings: dict[str, Finding], now: datetime, summary: Summary
    ) -> None:
        columns = (Alert.id, Alert.key, Alert.state, Alert.title, Alert.detail, Alert.link)
        alerts = {
            row.key: row for row in self.session.execute(select(*columns).where(Alert.kind == kind))
        }
        self.session.rollback()  # plain values from here: each change is a short transaction
        for key, finding in findings.items():
            alert = alerts.get(key)
            if alert is None:
                if self._create(kind, finding, now):
                    summary.fired.append(key)
            elif alert.state != "firing":
                if self._move(alert.id, alert.state, "firing", now, finding):
                    summary.fired.append(key)
            elif (alert.title, alert.detail, alert.link) != (
                finding.title,
                finding.detail,
                finding.link,
            ):
                self.session.execute(
                    update(Alert)
                    .where(Alert.id == alert.id)
                    .values(title=finding.title, detail=finding.detail, link=finding.link)
                )
                self.session.commit()
        for key, alert in alerts.items():
            resolves = alert.state == "firing" and key not in findings
            if resolves and self._move(alert.id, "firing", "resolved", now, None):
                summary.resolved.append(key)

    def _create(self, kind: str, finding: Finding, now: datetime) -> bool:
        alert = Alert(
            key=finding.key,
            kind=kind,
            owner_id=finding.owner_id,
            state="firing",
            title=finding.title,
            detail=finding.detail,
            link=finding.link,
            first_seen_at=now,
            changed_at=now,
        )
        self.session.add(alert)
        try:
            self.session.flush()
            transition = self._transition(alert, "firing", now)
            self.session.commit()
        except IntegrityError:  # another evaluator created it meanwhile: its transition stands
            self.session.rollback()
            return False
        self._announce(alert, transition)
        return True

    def _move(
        self, alert_id: int, old: str, new: str, now: datetime, finding: Finding | None
    ) -> bool:
        values: dict[str, Any] = {"state": new, "changed_at": now}
        if new == "firing":
            assert finding is not None
            values.update(
                first_seen_at=now,
                resolved_at=None,
                title=finding.title,
                detail=finding.detail,
                link=finding.link,
                owner_id=finding.owner_id,
            )
        else:
            values["resolved_at"] = now
        moved = self.session.execute(
            update(Alert).where(Alert.id == alert_id, Alert.state == old).values(**values)
        )
        if moved.rowcount != 1:  # another evaluator moved it first
            self.session.rollback()
            return False
        alert = self.session.get(Alert, alert_id, populate_existing=True)
        assert alert is not None
        transition = self._transition(alert, new, now)
        self.session.commit()
        self._announce(alert, transition)
        return True

    def _transition(self, alert: Alert, state: str, now: datetime) -> AlertTransition:
        transition = AlertTransition(
            alert_id=alert.id,
            owner_id=alert.owner_id,
            state=state,
            title=alert.title,
            detail=alert.detail,
            link=alert.link,
            at=now,
        )
        self.session.add(transition)
        return transition

    def _announce(self, alert: Alert, transition: AlertTransition) -> None:
        if self.on_change is None:
            return
        try:
            self.on_change(alert, transition)
        except Exception:  # a live event lost is a page not refreshed, never a lost change
            log.warning("could not announce alert %s", alert.key, exc_info=True)
