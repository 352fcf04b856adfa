"""The documents' background work: sending pending documents to the NAS, and sweeping what
killed uploads left (documents stored before their row, temp files)."""

from __future__ import annotations

from ..background.work import Job, Runner
from .wiring import auto_sync, sweep_debris

JOBS: list[Job] = [
    Job("documents.auto_sync", auto_sync, lambda s: s.documents.auto_sync_interval),
    Job("documents.debris", sweep_debris, lambda s: s.debris.interval),
]
RUNNERS: list[Runner] = []
