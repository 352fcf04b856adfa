"""memory.Trimmer: malloc_trim after a burst, at once or after the interval, one waiting."""

from __future__ import annotations

import ctypes.util
import sys
import threading

import pytest

from syncapp.memory import LARGE_BODY, Trimmer, after_request, malloc_trim


def counting() -> tuple[list[int], threading.Event, object]:
    calls: list[int] = []
    done = threading.Event()

    def trim() -> None:
        calls.append(1)
        done.set()

    return calls, done, trim


def test_the_first_request_trims_at_once():
    calls, done, trim = counting()
    trimmer = Trimmer(trim, interval=3600)
    trimmer.request()
    assert done.wait(30)
    assert calls == [1]


def test_a_request_soon_after_a_trim_waits_and_others_join_it():
    calls, done, trim = counting()
    trimmer = Trimmer(trim, interval=3600)
    trimmer.request()
    assert done.wait(30)
    trimmer.request()  # within the hour: one trim waits
    trimmer.request()  # and this one joins it
    assert trimmer.pending
    assert calls == [1]


def test_a_failing_trim_leaves_the_trimmer_usable():
    done = threading.Event()
    outcomes: list[str] = []

    def trim() -> None:
        outcomes.append("called")
        if len(outcomes) == 1:
            raise OSError("no")
        done.set()

    trimmer = Trimmer(trim, interval=0)
    trimmer._run()  # what the timer thread runs: the error is logged, not raised
    assert not trimmer.pending
    trimmer.request()
    assert done.wait(30)
    assert outcomes == ["called", "called"]


def test_without_a_trim_function_nothing_happens():
    trimmer = Trimmer(None)
    trimmer.request()
    assert not trimmer.pending


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or ctypes.util.find_library("c") is None,
    reason="glibc only",
)
def test_this_process_can_trim():
    assert malloc_trim is not None
    malloc_trim()  # returns whether memory went back; it must not raise


@pytest.mark.parametrize(
    ("length", "trims"),
    [(str(LARGE_BODY), 1), (str(LARGE_BODY - 1), 0), ("", 0), ("nonsense", 0)],
)
def test_a_large_request_body_asks_for_a_trim(length, trims):
    calls, done, trim = counting()
    trimmer = Trimmer(trim, interval=3600)
    after_request({"CONTENT_LENGTH": length}, trimmer)
    if trims:
        assert done.wait(30)
    assert len(calls) == trims and not trimmer.pending
