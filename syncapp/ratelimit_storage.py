"""Rate-limit counters kept in this process, without limits' expiry thread.

limits' own `memory://` storage expires counters from a `threading.Timer` of 10 ms that it starts
again on almost every hit: at a few hundred requests a second that is a new thread per request
or two (about 7 % of a token-authenticated GET's CPU in bench/api_rate.py). Here a counter's
window end is kept beside it and read when the counter is; expired counters are dropped at most
once a second, by the hit that finds the time has come. Only what Flask-Limiter's fixed-window
strategy (its default, the one syncapp uses) asks of a storage is implemented.
"""

from __future__ import annotations

import threading
import time

from limits.storage import Storage

#: seconds between two sweeps of expired counters
SWEEP_INTERVAL = 1.0


class ProcessMemoryStorage(Storage):
    """`ratelimit.storage_uri: "process-memory://"`: fixed windows, one process, no threads."""

    STORAGE_SCHEME = ["process-memory"]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options) -> None:
        self._counters: dict[str, list[float]] = {}  # key -> [count, window end (epoch s)]
        self._lock = threading.Lock()
        self._next_sweep = 0.0
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)

    @property
    def base_exceptions(self) -> type[Exception]:
        return ValueError

    def incr(self, key: str, expiry: float, amount: int = 1) -> int:
        now = time.time()
        with self._lock:
            if now >= self._next_sweep:
                self._sweep(now)
            counter = self._counters.get(key)
            if counter is None or counter[1] <= now:
                counter = self._counters[key] = [0, now + expiry]
            counter[0] += amount
            return int(counter[0])

    def get(self, key: str) -> int:
        counter = self._counters.get(key)
        if counter is None or counter[1] <= time.time():
            return 0
        return int(counter[0])

    def get_expiry(self, key: str) -> float:
        counter = self._counters.get(key)
        return counter[1] if counter is not None else time.time()

    def check(self) -> bool:
        return True

    def reset(self) -> int:
        with self._lock:
            count = len(self._counters)
            self._counters.clear()
        return count

    def clear(self, key: str) -> None:
        with self._lock:
            self._counters.pop(key, None)

    def _sweep(self, now: float) -> None:
        for key in [key for key, (_, end) in self._counters.items() if end <= now]:
            del self._counters[key]
        self._next_sweep = now + SWEEP_INTERVAL
