"""Notifications' background work: sending the deliveries alert transitions owe (outbox.py)."""

from __future__ import annotations

from ..background.work import Job, Runner
from .wiring import deliver_due


def deliver() -> object:
    return deliver_due()


JOBS: list[Job] = [
    # Every delivery_interval seconds: fan out new transitions, send what is due, retry failures
    # whose backoff has passed. Claims make a second process (or a direct call) harmless.
    Job("notifications.deliver", deliver, lambda s: s.notifications.delivery_interval),
]
RUNNERS: list[Runner] = []
