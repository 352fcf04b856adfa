"""The scrub's background work: every `scrub.tick` seconds the leader continues the unfinished
pass, or starts one that is due (`scrub.interval` after the last) or was requested, for at most
`scrub.slice` seconds (scheduler.py runs it)."""

from __future__ import annotations

from ..background.work import Job, Runner
from ..settings import Settings
from .wiring import run_due


def tick_interval(configured: Settings) -> float | None:
    return configured.scrub.tick


JOBS: list[Job] = [Job("scrub.pass", run_due, tick_interval)]
RUNNERS: list[Runner] = []
