"""The sync jobs' background work: the dispatcher, which runs due jobs (runner.py), with the
realtime watcher it starts (watcher.py)."""

from __future__ import annotations

from ..background.work import Job, Runner
from .runner import start_dispatcher, stop_dispatcher

JOBS: list[Job] = []
#: its own loop, every sync.dispatch_interval seconds and when a run is requested
RUNNERS: list[Runner] = [Runner("syncs.dispatcher", start_dispatcher, stop_dispatcher)]
