"""Group commit of folder fsyncs in the local backend: shared, but never too early."""

from __future__ import annotations

import threading
from pathlib import Path

from syncapp.storage import local
from tests.peers.process import wait_until


def test_renames_during_an_fsync_share_one_later_fsync(monkeypatch, tmp_path):
    calls: list[int] = []
    first_running, release_first = threading.Event(), threading.Event()

    def fake_fsync(folder: Path) -> None:
        calls.append(len(calls) + 1)
        if len(calls) == 1:
            first_running.set()
            assert release_first.wait(30)

    monkeypatch.setattr(local, "_fsync_now", fake_fsync)
    state = local._FolderSync()
    first = threading.Thread(target=state.sync, args=(tmp_path,))
    first.start()
    assert first_running.wait(30)
    # these renames happened after the running fsync began: it does not cover them
    late = [threading.Thread(target=state.sync, args=(tmp_path,)) for _ in range(5)]
    for thread in late:
        thread.start()
    wait_until(lambda: len(state.cond._waiters) == 5, timeout=30)  # all five are queued
    release_first.set()
    for thread in [first, *late]:
        thread.join(30)
    assert calls == [1, 2]  # one fsync for the five late callers, started after the first ended


def test_a_failed_fsync_is_raised_and_the_next_caller_tries_again(monkeypatch, tmp_path):
    outcomes = iter([OSError(5, "I/O error"), None])

    def flaky(folder: Path) -> None:
        error = next(outcomes)
        if error:
            raise error

    monkeypatch.setattr(local, "_fsync_now", flaky)
    state = local._FolderSync()
    try:
        state.sync(tmp_path)
        raise AssertionError("the failure was swallowed")
    except OSError:
        pass
    state.sync(tmp_path)  # succeeds with a new fsync
    assert state.done == 2 and not state.running


def test_the_registry_forgets_idle_folders(tmp_path):
    local._fsync_dir(tmp_path)
    assert tmp_path not in local._folder_syncs
