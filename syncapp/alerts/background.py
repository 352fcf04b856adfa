"""The alerts' background work: evaluating every condition every `alerts.interval` seconds on the
leader (scheduler.py runs it; tests call wiring.evaluate with the clock they drive)."""

from __future__ import annotations

from ..background.work import Job, Runner
from ..settings import Settings
from .wiring import evaluate


def evaluate_interval(configured: Settings) -> float | None:
    return configured.alerts.interval


def run_evaluation() -> object:
    return evaluate().as_dict()


JOBS: list[Job] = [Job("alerts.evaluate", run_evaluation, evaluate_interval)]
RUNNERS: list[Runner] = []
