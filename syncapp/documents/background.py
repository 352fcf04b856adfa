"""The documents' background work: sending pending documents to the NAS."""

from __future__ import annotations

from ..background.work import Job, Runner
from .wiring import auto_sync

JOBS: list[Job] = [
    Job("documents.auto_sync", auto_sync, lambda s: s.documents.auto_sync_interval),
]
RUNNERS: list[Runner] = []
