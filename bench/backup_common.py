"""What the two backup benchmarks share: syncapp under gunicorn, process memory, best-of timing."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.live import LiveServer  # noqa: E402

GB = 1000**3
MiB = 1024 * 1024


def start_syncapp(workdir: Path, **env: str) -> LiveServer:
    """syncapp as deployed (deploy/gunicorn.conf.py), with an admin token; state in `workdir`."""
    workdir.mkdir(parents=True, exist_ok=True)
    server = LiveServer(workdir, env=env)
    server.prepare()
    return server.start()


def gunicorn_worker(master_pid: int) -> int:
    """The one worker process of a gunicorn master (workers = 1): the process that serves."""
    children = psutil.Process(master_pid).children()
    if len(children) != 1:
        raise RuntimeError(f"expected one gunicorn worker, found {len(children)}")
    return children[0].pid


class PeakMemory:
    """The growth of a process's peak RSS over a stretch of work.

    Writing 5 to /proc/PID/clear_refs resets the kernel's high-water mark (VmHWM) to the current
    RSS, so VmHWM afterwards is the peak of exactly that stretch, however short the spike was.
    """

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.before = 0

    def _status(self, field: str) -> int:
        with open(f"/proc/{self.pid}/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
        raise RuntimeError(f"no {field} for process {self.pid}")

    def __enter__(self) -> PeakMemory:
        with open(f"/proc/{self.pid}/clear_refs", "w") as refs:
            refs.write("5")
        self.before = self._status("VmRSS")
        return self

    def __exit__(self, *exc: object) -> None:
        self.growth = self._status("VmHWM") - self.before


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def best_of(repeat: int, action: Callable[[], object]) -> tuple[float, list[float]]:
    """The fastest of `repeat` runs (noise on a shared machine only ever adds time), and all."""
    times = [timed(action) for _ in range(repeat)]
    return min(times), times


def verdict(ok: bool) -> str:
    return "target met" if ok else "TARGET MISSED"


def fmt_times(times: list[float]) -> str:
    return ", ".join(f"{t:.3f}" for t in times)


def disk_free(path: Path) -> int:
    stats = os.statvfs(path)
    return stats.f_bavail * stats.f_frsize
