"""The two kinds of background work a feature declares, in its `<feature>/background.py`
(`JOBS` and `RUNNERS`); `scheduler.py` gathers every feature's into one registry and runs them in
the leader process only (docs/architecture.md, "Background work")."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..settings import Settings

if TYPE_CHECKING:
    from flask import Flask

#: seconds between two runs, read from the settings (`settings(app)`); None: off
Interval = Callable[[Settings], float | None]


@dataclass(frozen=True)
class Job:
    """Periodic work: `run()` every `interval` seconds inside an app context of its own, while
    this process leads (checked just before). Each run is recorded in `scheduled_runs`, which
    `/api/v1/status` shows and a new leader plans the next run from."""

    id: str
    run: Callable[[], object]
    interval: Interval


@dataclass(frozen=True)
class Runner:
    """Long-running work: `start(app)` when this process starts leading, `stop(app)` when it
    steps down. With `interval`, the runner is off when the interval is None, and `wake(app)`, if
    given, nudges it every `interval` seconds: a wake-up is not recorded and needs no leader
    check (what a runner does is claimed row by row, background/claims.py)."""

    id: str
    start: Callable[[Flask], object]
    stop: Callable[[Flask], None]
    interval: Interval | None = None
    wake: Callable[[Flask], None] | None = None

    def enabled(self, configured: Settings) -> bool:
        return self.interval is None or bool(self.interval(configured))
