"""The rate-limit storage of one process: fixed windows that end on time, with no thread."""

from __future__ import annotations

import threading

import pytest
from limits import parse
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter

from syncapp import ratelimit_storage
from syncapp.ratelimit_storage import ProcessMemoryStorage


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(ratelimit_storage.time, "time", clock)
    return clock


def test_the_uri_names_this_storage():
    assert isinstance(storage_from_string("process-memory://"), ProcessMemoryStorage)


def test_a_window_refuses_past_its_limit_and_opens_again_when_it_ends(clock):
    limiter = FixedWindowRateLimiter(ProcessMemoryStorage())
    limit = parse("3 per minute")
    assert [limiter.hit(limit, "alice") for _ in range(4)] == [True, True, True, False]
    assert limiter.hit(limit, "bob")  # another key has its own window
    clock.now += 59
    assert not limiter.hit(limit, "alice")
    assert limiter.get_window_stats(limit, "alice").reset_time == pytest.approx(1_000_060.0)
    clock.now += 1
    assert limiter.hit(limit, "alice")
    assert limiter.get_window_stats(limit, "alice").remaining == 2


def test_expired_counters_are_dropped_without_a_thread(clock):
    threads = threading.active_count()
    storage = ProcessMemoryStorage()
    for n in range(100):
        storage.incr(f"client-{n}", 10)
    assert threading.active_count() == threads
    clock.now += 11
    storage.incr("late", 10)  # the first hit after the sweep interval drops what ended
    assert set(storage._counters) == {"late"}
    assert storage.get("client-1") == 0


def test_clear_and_reset(clock):
    storage = ProcessMemoryStorage()
    storage.incr("a", 60)
    storage.incr("b", 60, amount=2)
    storage.clear("a")
    assert (storage.get("a"), storage.get("b")) == (0, 2)
    assert storage.reset() == 1
    assert storage.get("b") == 0
    assert storage.check()
