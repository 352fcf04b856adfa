"""The scrub's read rate: a token bucket in bytes per second, its clock and sleep injected.

Tests drive the arithmetic with a fake clock whose sleep moves it forward; the scrub's workers
share one limiter, so `scrub.max_rate` bounds the whole scrub, not each worker.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class RateLimiter:
    """`take(n)` before using n bytes: returns at once while the bucket holds them, else sleeps
    until the rate has paid for them. The bucket holds at most `burst` seconds' worth, so an
    idle scrub does not read a burst of minutes when it resumes."""

    def __init__(
        self,
        rate: float | None,
        *,
        burst: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], object] = time.sleep,
    ) -> None:
        self.rate = rate if rate and rate > 0 else None
        self.capacity = (self.rate or 0) * burst
        self._clock, self._sleep = clock, sleep
        self._tokens = self.capacity
        self._last: float | None = None
        self._lock = threading.Lock()

    def delay_for(self, size: int) -> float:
        """Account for `size` bytes; the seconds to wait before using them (0: none)."""
        if self.rate is None:
            return 0.0
        with self._lock:
            now = self._clock()
            if self._last is not None:
                elapsed = max(0.0, now - self._last)
                self._tokens = min(self.capacity, self._tokens + elapsed * self.rate)
            self._last = now
            self._tokens -= size
            # a debt is paid by the refill while the caller waits: the next take sees it
            return -self._tokens / self.rate if self._tokens < 0 else 0.0

    def take(self, size: int) -> float:
        """Wait (outside the lock: the other workers account meanwhile) until `size` bytes may
        be used; the seconds waited."""
        wait = self.delay_for(size)
        if wait > 0:
            self._sleep(wait)
        return wait
