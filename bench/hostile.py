"""Hostile clients (issue 18): how many idle hostile connections it takes before health slows.

    .venv/bin/python bench/hostile.py [--steps 500,1000,2000,3000,5000] [--samples 50]
                                      [--bombs 64] [--setups default,nginx]

Setups: "default" is one gunicorn process as scripts/serve starts it (deploy/gunicorn.conf.py,
512 threads, SQLite); "nginx" is the same process behind deploy/nginx.conf (rendered as the
tests do), the hostile clients coming from an address of their own (127.0.77.1).

Per attack (tests/hostile/attacks.py: half-sent request heads; idle anonymous engine.io
WebSockets), hostile connections are opened in steps and held; after each step, --samples
sequential GET /api/v1/health (10 s timeout, a timeout counting as 10 s) give a p99. Printed:
the first step at which p99 passes 1 s (target: not reached at 5,000). Connections are opened
cumulatively; the server closes half-sent heads after server.header_timeout (10 s) and
anonymous sessions after socketio.auth_timeout (5 s), so an attacker must keep reconnecting.

Deflate: --bombs clients each offer permessage-deflate and, when upgraded, send one frame that
inflates to 200 MB; printed is the worker's peak RSS (VmHWM) above its RSS before, per client.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.hostile.attacks import (
    ATTACKS,
    Address,
    hold,
    memory_kib,
    release,
    worker_pids,
)
from tests.live import LiveServer
from tests.peers.nginx import start_nginx

SLOW = 1.0
TIMEOUT = 10.0


def health_p99(url: str, samples: int) -> float:
    times = []
    for _ in range(samples):
        started = time.perf_counter()
        try:
            requests.get(f"{url}/api/v1/health", timeout=TIMEOUT)
            times.append(time.perf_counter() - started)
        except requests.RequestException:
            times.append(TIMEOUT)
    return statistics.quantiles(times, n=100)[98] if len(times) > 1 else times[0]


def threshold(url: str, address: Address, kind: str, steps: list[int], samples: int) -> str:
    held: list = []
    try:
        for step in steps:
            held += hold(ATTACKS[kind], address, step - len(held), threads=16)
            p99 = health_p99(url, samples)
            print(f"    {kind}: {len(held)} held, health p99 {p99 * 1000:.0f} ms", flush=True)
            if p99 > SLOW:
                return f"{step} (p99 {p99:.2f} s)"
        return f"not reached at {steps[-1]}"
    finally:
        release(held)


def rss_per_bomb(address: Address, master: int, bombs: int) -> str:
    [worker] = worker_pids(master)
    before = memory_kib(worker, "VmRSS")
    held = hold(ATTACKS["deflate_bomb"], address, bombs, threads=8)
    upgraded = sum(head.startswith("HTTP/1.1 101") for _, head in held)
    time.sleep(2)  # let the worker read what was sent before its peak is read
    peak = memory_kib(worker, "VmHWM")
    release(held)
    per = (peak - before) / max(1, len(held))
    return (
        f"{per:.1f} KiB per client ({len(held)} clients, {upgraded} upgraded; "
        f"RSS {before / 1024:.0f} MiB before, peak {peak / 1024:.0f} MiB)"
    )


def run(setup: str, args: argparse.Namespace, workdir: Path) -> None:
    server = LiveServer(workdir / setup, threads=512)
    (workdir / setup).mkdir()
    server.prepare()
    server.start()
    nginx = None
    try:
        url, address = server.url, Address("127.0.0.1", server.port)
        if setup == "nginx":
            nginx = start_nginx([f"127.0.0.1:{server.port}"], workdir / "nginx")
            url, address = nginx.url, Address("127.0.0.1", nginx.port, source="127.0.77.1")
        print(f"{setup}:", flush=True)
        print(f"  deflate bombs: {rss_per_bomb(address, server.process.proc.pid, args.bombs)}")
        for kind in ("partial_head", "idle_engineio"):
            found = threshold(url, address, kind, args.steps, args.samples)
            print(f"  {kind}: health p99 past 1 s: {found}", flush=True)
    finally:
        if nginx is not None:
            nginx.stop()
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", default="500,1000,2000,3000,5000")
    parser.add_argument("--samples", type=int, default=50)
    parser.add_argument("--bombs", type=int, default=64)
    parser.add_argument("--setups", default="default,nginx")
    args = parser.parse_args()
    args.steps = [int(step) for step in args.steps.split(",")]
    with tempfile.TemporaryDirectory(prefix="bench-hostile-") as tmp:
        for setup in args.setups.split(","):
            run(setup, args, Path(tmp))


if __name__ == "__main__":
    main()
