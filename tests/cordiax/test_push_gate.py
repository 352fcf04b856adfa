"""PushGate: pushes stored at once per process, and the bounded wait for a turn (issue 23).

Threads wait on events, never on time; the only deadlines are those of a refusal by time
(`wait=0`) and the join that proves a waiter was let in."""

from __future__ import annotations

import threading

import pytest

from syncapp.cordiax.push_gate import PushBusy, PushGate
from tests.peers.process import wait_until

MiB = 1024 * 1024


def hold(gate: PushGate, size: int) -> tuple[threading.Event, threading.Event, threading.Thread]:
    """A push holding a slot (or waiting for one) in a thread until `release` is set."""
    inside, release = threading.Event(), threading.Event()

    def push() -> None:
        with gate.enter(size):
            inside.set()
            release.wait(30)

    thread = threading.Thread(target=push, daemon=True)
    thread.start()
    return inside, release, thread


def refused(gate: PushGate, size: int) -> bool:
    try:
        with gate.enter(size):
            return False
    except PushBusy:
        return True


def test_pushes_take_the_free_slots():
    gate = PushGate(slots=2, waiting_bytes=0, wait=30)
    with gate.enter(MiB), gate.enter(MiB):
        assert refused(gate, MiB)  # no room to wait: refused at once
    with gate.enter(MiB):  # the slots came back
        pass


def test_waiting_is_bounded_by_the_bytes_waiting_pushes_hold():
    gate = PushGate(slots=1, waiting_bytes=3 * MiB, wait=30)
    inside, release, holder = hold(gate, MiB)
    assert inside.wait(10)
    waiter_in, waiter_release, waiter = hold(gate, 2 * MiB)  # fits: waits for the slot
    try:
        wait_until(lambda: gate.waiting == (1, 2 * MiB), 10, "the push to wait")
        assert refused(gate, 2 * MiB)  # 2 + 2 MiB would exceed the 3 MiB budget
    finally:
        release.set()
    assert waiter_in.wait(10)  # the waiter got the slot the holder left
    waiter_release.set()
    holder.join(10)
    waiter.join(10)


def test_a_push_larger_than_the_budget_may_still_wait_alone():
    gate = PushGate(slots=1, waiting_bytes=MiB, wait=30)
    inside, release, holder = hold(gate, MiB)
    assert inside.wait(10)
    waiter_in, waiter_release, waiter = hold(gate, 10 * MiB)
    release.set()
    assert waiter_in.wait(10)
    waiter_release.set()
    holder.join(10)
    waiter.join(10)


def test_waiting_is_bounded_in_time():
    gate = PushGate(slots=1, waiting_bytes=10 * MiB, wait=0)
    inside, release, holder = hold(gate, MiB)
    assert inside.wait(10)
    try:
        assert refused(gate, MiB)
    finally:
        release.set()
        holder.join(10)
    with gate.enter(MiB):  # the refused waiter left no trace: the slot is free
        assert gate.waiting == (0, 0)


def test_the_gate_reports_idle_when_the_last_push_leaves():
    idle = []
    gate = PushGate(2, 0, 0.0, on_idle=lambda: idle.append(gate.waiting))
    with gate.enter(10):
        with gate.enter(10):
            pass
        assert idle == []  # one push still in flight
    assert idle == [(0, 0)]


def test_a_refused_push_does_not_report_idle():
    idle = []
    gate = PushGate(1, 0, 0.0, on_idle=lambda: idle.append(True))
    with gate.enter(10):
        with pytest.raises(PushBusy), gate.enter(10):
            pass
        assert idle == []
    assert idle == [True]
