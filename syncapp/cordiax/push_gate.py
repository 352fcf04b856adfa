"""How many Cordiax pushes a process decodes and stores at once, and how many may wait.

A push arrives whole (the client sends its database as one hex message) before the handler
runs, so the server cannot slow a client down: it can only take the push, let it wait its turn,
or refuse it. Each push in flight costs several copies of its payload (the hex string, the
bytes, the store's buffers), so `slots` pushes are stored at once. Waiting is bounded too: by the
hex bytes held by waiting pushes (`waiting_bytes`) and by time (`wait`). Before this bound, 200
clients pushing together each held their hex string while waiting (bench/load.py: RSS grew
round after round), and pushes waited for 20 s and more while the server answered nothing.

A push over either bound is refused with `sync_error` `busy` and a retry hint; the Cordiax
client ignores `sync_error` but pushes again on every `sync_request`, so the namespace asks that
client again after the hint (requester.py). The transport stays open: nothing is dropped.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager


class PushBusy(Exception):
    """No slot now and no room (or time) left to wait for one."""


class PushGate:
    def __init__(
        self,
        slots: int,
        waiting_bytes: int,
        wait: float,
        on_idle: Callable[[], None] | None = None,
    ) -> None:
        self.slots = max(1, slots)
        # called (outside the lock) when the last push in flight leaves and none waits: the end
        # of a burst, when the process can give its buffers' memory back (syncapp/memory.py)
        self.on_idle = on_idle
        self.waiting_bytes = max(0, waiting_bytes)
        self.wait = max(0.0, wait)
        self._free = self.slots
        self._waiting = 0  # hex bytes held by pushes waiting for a slot
        self._waiters = 0
        self._cond = threading.Condition()

    @property
    def waiting(self) -> tuple[int, int]:
        """(pushes waiting for a slot, hex bytes they hold)."""
        with self._cond:
            return self._waiters, self._waiting

    @contextmanager
    def enter(self, size: int) -> Iterator[None]:
        """Hold a slot for a push of `size` (its hex length) or raise PushBusy."""
        self._acquire(size)
        try:
            yield
        finally:
            with self._cond:
                self._free += 1
                self._cond.notify()
                idle = self._free == self.slots and self._waiters == 0
            if idle and self.on_idle is not None:
                self.on_idle()

    def _acquire(self, size: int) -> None:
        with self._cond:
            if self._free > 0:
                self._free -= 1
                return
            # With any budget, one waiter always fits: a push larger than the budget is not
            # refused forever; a budget of 0 means no push waits.
            over = self._waiters > 0 and self._waiting + size > self.waiting_bytes
            if self.waiting_bytes == 0 or over:
                raise PushBusy
            self._waiting += size
            self._waiters += 1
            deadline = time.monotonic() + self.wait
            try:
                while self._free == 0:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise PushBusy
                    self._cond.wait(left)
                self._free -= 1
            finally:
                self._waiting -= size
                self._waiters -= 1
                if self._free > 0:
                    self._cond.notify()  # a slot this waiter did not take goes to the next one
