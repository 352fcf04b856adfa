"""The scrub's rate limiter: its arithmetic, with a clock the test moves (no real waits)."""

from __future__ import annotations

from syncapp.scrub.ratelimit import RateLimiter
from tests.scrub.helpers import Clock

MiB = 1024 * 1024


def test_reads_beyond_the_burst_wait_for_the_rate():
    clock = Clock()
    limiter = RateLimiter(10 * MiB, clock=clock.monotonic, sleep=clock.sleep)
    assert limiter.take(10 * MiB) == 0  # the bucket starts full: one second's worth
    assert limiter.take(5 * MiB) == 0.5  # then 5 MiB costs half a second at 10 MiB/s
    assert limiter.take(MiB) == 0.1  # the wait paid the debt: 1 MiB more costs 0.1 s
    assert abs(sum(clock.slept) - 0.6) < 1e-9


def test_a_long_read_averages_to_the_rate():
    clock = Clock()
    limiter = RateLimiter(50 * MiB, clock=clock.monotonic, sleep=clock.sleep)
    start = clock.mono
    for _ in range(1000):  # 1000 MiB in 1 MiB chunks
        limiter.take(MiB)
    elapsed = clock.mono - start
    assert abs(elapsed - (1000 - 50) / 50) < 1e-6  # all but the first second's burst paid for


def test_idle_time_refills_only_up_to_the_burst():
    clock = Clock()
    limiter = RateLimiter(MiB, clock=clock.monotonic, sleep=clock.sleep)
    limiter.take(MiB)
    clock.advance(3600)  # an hour idle earns one second's worth, not an hour's
    assert limiter.take(MiB) == 0
    assert limiter.take(MiB) == 1.0


def test_no_rate_never_waits():
    clock = Clock()
    for rate in (None, 0):
        limiter = RateLimiter(rate, clock=clock.monotonic, sleep=clock.sleep)
        assert limiter.take(10**12) == 0
    assert clock.slept == []
