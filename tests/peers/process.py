"""Start and stop real servers for the tests: free ports, readiness checks, clean shutdown."""

from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

#: Servers listen below the kernel's ephemeral range (32768-60999 here): a port the kernel
#: picked (bind to 0) is also where it puts outgoing connections, and a test holding a thousand
#: client sockets took the port a server was about to bind ("Address already in use").
LISTEN_PORTS = range(20000, 32000)


def free_port() -> int:
    """A port nothing listens on now, chosen at random among LISTEN_PORTS."""
    for port in random.sample(LISTEN_PORTS, 200):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {LISTEN_PORTS}")


def worker_index() -> int:
    """This pytest-xdist worker's number (gw0 -> 0, gw1 -> 1), 0 without xdist: for resources
    every worker would otherwise share by name (each worker starts its own peers)."""
    return int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw"))


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_until(
    condition: Callable[[], bool], timeout: float = 30.0, what: str = "condition"
) -> None:
    """Poll `condition` until it holds; a deadline, never a fixed sleep, decides when to give up."""
    deadline = time.monotonic() + timeout
    delay = 0.02
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(delay)
        delay = min(delay * 2, 0.5)


def peer_missing(reason: str) -> None:
    """Skip a test whose real server cannot run here; under CI=true that is a failure instead."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"peer unavailable in CI: {reason}", pytrace=False)
    pytest.skip(reason)


def require_executable(name: str, hint: str) -> str:
    path = shutil.which(name)
    if path is None:
        peer_missing(f"{name} not found ({hint})")
    return path


class ServerProcess:
    """A server subprocess that can be stopped and started again on the same port."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        ready: Callable[[], bool],
        log_dir: Path,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        timeout: float = 60.0,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.ready = ready
        self.env = env
        self.cwd = cwd
        self.timeout = timeout
        self.log_path = log_dir / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> ServerProcess:
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child owns it for its lifetime
        self.proc = subprocess.Popen(
            self.argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(self.env or {})},
            cwd=self.cwd,
            start_new_session=True,
        )
        log.close()

        def up() -> bool:
            if self.proc is not None and self.proc.poll() is not None:
                tail = self.log_path.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{tail}")
            return self.ready()

        wait_until(up, self.timeout, f"{self.name} to answer")
        return self

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def kill(self) -> None:
        """SIGKILL the whole process group: a crash, with no chance to clean up."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


class Peer:
    """A running real server: the settings `open_remote` needs, and its process for fault tests."""

    def __init__(self, kind: str, settings: dict, process: ServerProcess | None = None) -> None:
        self.kind = kind
        self.settings = settings
        self.process = process
