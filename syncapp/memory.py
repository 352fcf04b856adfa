"""Giving memory back to the system after a burst of large requests (glibc's malloc_trim).

A worker that receives hundreds of Cordiax pushes at once holds, for a moment, hundreds of
megabytes of their pieces: the 64 KiB reads of every WebSocket, wsproto's text chunks and their
encodings, engine.io's and Socket.IO's copies of each message. Blocks above the mmap threshold
(deploy/gunicorn.conf.py: 256 KiB) go back to the system when freed; the small ones stay in the
allocator's heaps, fragmented between longer-lived objects, and glibc trims a heap only from its
top. So RSS stayed at the burst's high-water mark and stepped up whenever a burst went higher
(bench/load.py, one process: 537, 520, 809, 809, 813 MiB after rounds 1-5). `malloc_trim(0)`
returns every free page of every arena, wherever it is, for a few milliseconds of one thread
(ctypes releases the GIL).

`Trimmer.request()` asks for a trim (when the push gate empties, and after a request with a
large body: `after_request`); it runs at once in a thread of its own, or `interval`
seconds (2) after the previous one if that was recent, never more than one waiting. Without glibc
(musl, macOS) there is nothing to call and nothing happens.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)


def _malloc_trim() -> Callable[[], None] | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        function = libc.malloc_trim
    except (OSError, AttributeError):  # not glibc
        return None
    function.argtypes = [ctypes.c_size_t]
    function.restype = ctypes.c_int
    return lambda: function(0)


#: this process's malloc_trim(0), or None where the C library has none
malloc_trim = _malloc_trim()


class Trimmer:
    def __init__(self, trim: Callable[[], object] | None = malloc_trim, interval: float = 2.0):
        self.trim = trim
        self.interval = max(0.0, interval)
        self._lock = threading.Lock()
        self._last: float | None = None  # monotonic time of the last trim
        self._pending = False

    @property
    def pending(self) -> bool:
        with self._lock:
            return self._pending

    def request(self) -> None:
        """A burst is over: trim soon (at once, or `interval` after the previous trim)."""
        if self.trim is None:
            return
        with self._lock:
            if self._pending:
                return
            self._pending = True
            wait = 0.0 if self._last is None else self._last + self.interval - time.monotonic()
        timer = threading.Timer(max(0.0, wait), self._run)
        timer.name = "malloc-trim"
        timer.daemon = True
        timer.start()

    def _run(self) -> None:
        with self._lock:
            self._pending = False
            self._last = time.monotonic()
        try:
            self.trim()
        except Exception:  # only memory stays higher: never an error for anyone
            log.warning("malloc_trim failed", exc_info=True)


#: this process's trimmer: the end of a burst of pushes (cordiax/wiring.py) and of a large
#: request (an upload, `after_request`) share it, so trims stay `interval` apart
trimmer = Trimmer()
#: a request body this large (an upload) asks for a trim once it has been answered
LARGE_BODY = 1024 * 1024


def after_request(environ: dict, trimmer: Trimmer = trimmer) -> None:
    """gunicorn's post_request (deploy/gunicorn.conf.py): after an upload, trim soon. Uploads
    finish after the pushes of a burst as often as before them, and what they free after the
    burst's trim would otherwise stay."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return
    if length >= LARGE_BODY:
        trimmer.request()
