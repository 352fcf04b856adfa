"""Cloud files' background work: the replication runner (replicator.py), which copies in its own
threads; new uploads wake it, and so does a nudge every cloud.replication_interval seconds. And
the sweep of what killed uploads and replications left (wiring.sweep_debris)."""

from __future__ import annotations

from ..background.work import Job, Runner
from .replicator import start_replication, stop_replication, wake_replication
from .wiring import sweep_debris

JOBS: list[Job] = [Job("cloud.debris", sweep_debris, lambda s: s.debris.interval)]
RUNNERS: list[Runner] = [
    Runner(
        "cloud.replication",
        start_replication,
        stop_replication,
        interval=lambda s: s.cloud.replication_interval,
        wake=wake_replication,
    ),
]
