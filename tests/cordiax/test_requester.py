"""SyncRequester: when the server asks each connected Cordiax client for its data (items 1-3).

The delays are shortened; each step waits for the request itself (a queue), and the only
waits that time out are those proving that no request came."""

from __future__ import annotations

import queue

import pytest

from syncapp.cordiax import requester as module
from syncapp.cordiax.requester import SyncRequester

QUIET = 1.5  # seconds without a request that prove none is scheduled (several intervals)


@pytest.fixture
def sent(monkeypatch):
    monkeypatch.setattr(module, "FIRST_DELAY", 0.05)
    monkeypatch.setattr(module, "RETRY_DELAY", 0.05)
    requests: queue.Queue[str] = queue.Queue()
    scheduler = SyncRequester(requests.put, interval=1)
    scheduler.interval = 0.2  # below the setting's floor of one second, for the test only
    yield scheduler, requests
    scheduler.stop()


def nothing_sent(requests: queue.Queue) -> bool:
    try:
        requests.get(timeout=QUIET)
    except queue.Empty:
        return True
    return False


def test_the_first_request_follows_the_connection_and_is_retried_when_nothing_came(sent):
    scheduler, requests = sent
    scheduler.connected("a")
    assert requests.get(timeout=5) == "a"  # after FIRST_DELAY, not during the connect
    assert requests.get(timeout=5) == "a"  # nothing was pushed: asked once more
    scheduler.pushed("a")
    assert requests.get(timeout=5) == "a"  # then every interval


def test_requests_repeat_every_interval_while_connected_and_stop_on_disconnect(sent):
    scheduler, requests = sent
    scheduler.connected("a")
    for _ in range(4):
        assert requests.get(timeout=5) == "a"
        scheduler.pushed("a")
    scheduler.disconnected("a")
    while not requests.empty():
        requests.get()
    assert nothing_sent(requests)


def test_a_push_refused_as_too_large_is_not_asked_for_again(sent):
    scheduler, requests = sent
    scheduler.connected("big")
    scheduler.connected("small")
    assert {requests.get(timeout=5), requests.get(timeout=5)} == {"big", "small"}
    scheduler.pushed("big", refused_size=True)
    scheduler.pushed("small")
    seen = [requests.get(timeout=5) for _ in range(8)]
    # a retry for "big" may have gone out just before its refusal was noted; none after that
    assert seen.count("big") <= 1 and set(seen[-5:]) == {"small"}


def test_a_push_refused_as_busy_is_asked_for_again_after_the_hint(monkeypatch):
    monkeypatch.setattr(module, "FIRST_DELAY", 3600.0)  # no scheduled request in this test
    requests: queue.Queue[str] = queue.Queue()
    scheduler = SyncRequester(requests.put, interval=3600)
    try:
        scheduler.connected("busy")
        scheduler.connected("gone")
        scheduler.retry("busy", 0.05)
        scheduler.retry("gone", 0.05)
        scheduler.disconnected("gone")  # a client that left is not asked
        scheduler.retry("never-connected", 0.05)
        assert requests.get(timeout=5) == "busy"
        assert nothing_sent(requests)
    finally:
        scheduler.stop()
