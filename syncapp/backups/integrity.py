"""The gzip check of a new archive, run right after its upload's reply.

Inflating the whole stream while it arrived made a compressible archive's upload 2.2-3.3 times
slower (zlib inflates about 0.14 GB/s of such input per core, against 0.75 GB/s for MD5;
docs/benchmarks.md), so the check runs after the reply: the archive is "unverified" until it
passes, and /verify never counts an unverified or corrupt archive in sync (it finishes a pending
check itself). One thread per process checks one archive at a time, so checks never take both
cores from uploads. A check a restart interrupts is left "unverified", for the next /verify or
`flask backups check`.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable

from flask import Flask

from ..extensions import db
from .models import BackupArchive
from .store import ArchiveStore

log = logging.getLogger(__name__)

#: what a queued check needs: the app, the archive, and how to build the app's archive store
#: in that app's context (wiring.archive_store)
Check = tuple[Flask, int, Callable[[], ArchiveStore]]

_pending: queue.Queue[Check] = queue.Queue()
_worker: threading.Thread | None = None
_start_lock = threading.Lock()


def check_later(app: Flask, archive_id: int, archive_store: Callable[[], ArchiveStore]) -> None:
    """Queue the check of a just-stored archive (its row committed)."""
    global _worker
    with _start_lock:
        if _worker is None or not _worker.is_alive():
            # daemon: a shutdown does not wait for a check; the archive stays "unverified"
            _worker = threading.Thread(target=_run, name="backup-gzip-check", daemon=True)
            _worker.start()
    _pending.put((app, archive_id, archive_store))


def wait_idle() -> None:
    """Return once every queued check is done (tests, and `flask backups check`)."""
    _pending.join()


def _run() -> None:
    while True:
        app, archive_id, archive_store = _pending.get()
        try:
            _check(app, archive_id, archive_store)
        except Exception:  # a check must never stop the worker: the archive stays unverified
            log.exception("the gzip check of backup archive %s failed", archive_id)
        finally:
            _pending.task_done()


def _check(app: Flask, archive_id: int, archive_store: Callable[[], ArchiveStore]) -> None:
    with app.app_context():
        try:
            archive = db.session.get(BackupArchive, archive_id)
            if archive is not None:  # deleted meanwhile: nothing to check
                archive_store().check_integrity([archive])
        finally:
            db.session.remove()
