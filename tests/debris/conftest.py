"""Fixtures for the debris tests: an app, and a child process of it killed at a chosen point."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from tests.conftest import make_settings
from tests.peers.process import wait_until

REPOSITORY = Path(__file__).resolve().parents[2]
#: older than debris.min_age (an hour by default)
LONG_AGO = timedelta(hours=2)


@pytest.fixture
def kill_at(tmp_path) -> Callable[..., None]:
    """kill_at(sections, scenario, **arguments): run tests/debris/killed.py's scenario in a
    child process with the settings make_app(**sections) used, and SIGKILL it once it froze."""
    runs = iter(range(1000))

    def run(sections: dict, scenario: str, **arguments) -> None:
        n = next(runs)
        settings_file, arguments_file = tmp_path / f"settings-{n}.json", tmp_path / f"args-{n}.json"
        settings_file.write_text(json.dumps(make_settings(tmp_path, **sections)))
        arguments_file.write_text(json.dumps(arguments))
        marker = tmp_path / f"frozen-{n}"
        child = subprocess.Popen(
            [sys.executable, "-m", "tests.debris.killed", str(settings_file), str(marker),
             scenario, str(arguments_file)],
            cwd=REPOSITORY,
        )  # fmt: skip
        try:
            wait_until(lambda: marker.exists() or child.poll() is not None, timeout=120)
            assert marker.exists(), f"{scenario}: the child ended before freezing"
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait(30)
        assert child.returncode == -signal.SIGKILL

    return run


def backdate(*paths: Path, by: timedelta = LONG_AGO) -> None:
    """Make files look as old as debris left long ago (the sweep reads their mtime)."""
    stamp = time.time() - by.total_seconds()
    for path in paths:
        os.utime(path, (stamp, stamp))


def files(root: Path) -> set[str]:
    """Every file below `root`, temp files included, relative to it."""
    if not root.exists():
        return set()
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}
