"""Realtime jobs: watchdog observes their source folders and asks for a run after a change.

The observer's thread only notes which job changed and arms a debounce timer; the run request
(a database write) happens on the timer's thread once the folder has been quiet for
`sync.realtime_debounce` seconds, so a burst of writes gives one run, not hundreds. The watcher
is given the function that requests a run, and its owner (runner.start_dispatcher) calls
`refresh` after each dispatcher tick, so that the watched folders follow the jobs table.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable

from flask import Flask
from sqlalchemy import select
from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from ..extensions import db
from ..settings import settings
from ..storage.base import is_temp
from .models import SyncJob

#: asks for a run of a job, with the reason recorded on the run (runner.request_run)
RequestRun = Callable[[SyncJob, str], object]

log = logging.getLogger(__name__)


class _JobHandler(FileSystemEventHandler):
    def __init__(self, watcher: RealtimeWatcher, job_id: int) -> None:
        self.watcher = watcher
        self.job_id = job_id

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type in ("opened", "closed_no_write") or is_temp(str(event.src_path)):
            return
        self.watcher.changed(self.job_id)


class RealtimeWatcher:
    def __init__(self, app: Flask, request_run: RequestRun) -> None:
        self.app = app
        self.request_run = request_run
        self.debounce = settings(app).sync.realtime_debounce
        self.observer = Observer()
        self.watches: dict[int, tuple[str, object]] = {}  # job id -> (folder, watch handle)
        self.timers: dict[int, threading.Timer] = {}
        self.lock = threading.Lock()

    def start(self) -> None:
        self.observer.daemon = True
        self.observer.start()
        self.refresh()

    def stop(self) -> None:
        with self.lock:
            for timer in self.timers.values():
                timer.cancel()
            self.timers.clear()
        self.observer.stop()
        self.observer.join(timeout=5)

    def refresh(self) -> None:
        with self.app.app_context():
            try:
                wanted = {
                    job_id: folder
                    for job_id, folder in db.session.execute(
                        select(SyncJob.id, SyncJob.source_path).where(
                            SyncJob.realtime.is_(True), SyncJob.enabled.is_(True)
                        )
                    )
                }
            finally:
                db.session.remove()
        for job_id, (folder, handle) in list(self.watches.items()):
            if wanted.get(job_id) != folder:
                self.observer.unschedule(handle)
                del self.watches[job_id]
        for job_id, folder in wanted.items():
            if job_id not in self.watches and os.path.isdir(folder):
                handle = self.observer.schedule(_JobHandler(self, job_id), folder, recursive=True)
                self.watches[job_id] = (folder, handle)
                log.info("watching %s for job %d", folder, job_id)

    def changed(self, job_id: int) -> None:
        with self.lock:
            timer = self.timers.pop(job_id, None)
            if timer is not None:
                timer.cancel()
            timer = threading.Timer(self.debounce, self._request, args=(job_id,))
            timer.daemon = True
            self.timers[job_id] = timer
            timer.start()

    def _request(self, job_id: int) -> None:
        with self.lock:
            self.timers.pop(job_id, None)
        with self.app.app_context():
            try:
                job = db.session.get(SyncJob, job_id)
                if job is not None and job.enabled:
                    self.request_run(job, "realtime")
            except Exception:
                log.exception("could not queue a realtime run of job %d", job_id)
            finally:
                db.session.remove()
