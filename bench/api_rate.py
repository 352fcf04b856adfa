"""API request rate: authenticated JSON GETs per second against a bare Flask app, same gunicorn.

    .venv/bin/python bench/api_rate.py [--duration 10] [--connections 50] [--repeat 3]

Both servers start from deploy/gunicorn.conf.py (one process, gthread, the same threads and
keep-alive; only the bind address and the app differ), and Debian's `wrk` (a compiled load
generator, `apt-get install wrk`, that keeps up with both) drives them with `-t2 -cN`:

(a) syncapp, `GET /api/v1/syncs` with an admin's bearer token (the per-user rate limit raised
    above what the run can reach, so the limiter is still consulted but never refuses),
(b) syncapp, the public `GET /api/v1/health`,
(c) the bare Flask app below: `GET /api/v1/syncs` answering the same JSON body.

Reported per run: requests/s, p50 and p99 latency (wrk's --latency), non-2xx answers, and the
worker's CPU seconds per 1,000 requests (psutil, user + system), with (a)/(c) as ratios.
Targets (issue 23): (a) >= 0.7 x (c) requests/s, (a) p99 < 20 ms at 50 concurrent.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

TARGET_RATIO = 0.7
TARGET_P99_MS = 20.0
THREADS = 64


def bare_app():
    """gunicorn 'bench.api_rate:bare_app()': the same JSON answer with nothing behind it."""
    from flask import Flask, jsonify

    app = Flask("bare_api")

    @app.get("/api/v1/syncs")
    def syncs():
        return jsonify({"syncs": [], "total": 0})

    @app.get("/api/v1/health")
    def health():
        return jsonify({"status": "ok"})

    return app


@dataclass
class Figures:
    rate: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    requests: int
    cpu_s: float

    @property
    def cpu_ms_per_request(self) -> float:
        return self.cpu_s * 1000 / max(self.requests, 1)


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([0-9.]+)(us|ms|s)", text).groups()
    return float(value) * _UNITS[unit]


def run_wrk(url: str, headers: dict[str, str], duration: int, connections: int) -> dict:
    argv = ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency", url]
    for name, value in headers.items():
        argv[1:1] = ["-H", f"{name}: {value}"]
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    latency = dict(re.findall(r"^\s+(50|99)%\s+(\S+)\s*$", out, re.M))
    if "50" not in latency or "99" not in latency:
        raise RuntimeError(f"wrk's output has no latency distribution:\n{out}")
    return {
        "rate": float(re.search(r"Requests/sec:\s+([0-9.]+)", out).group(1)),
        "requests": int(re.search(r"([0-9]+) requests in", out).group(1)),
        "p50_ms": _ms(latency["50"]),
        "p99_ms": _ms(latency["99"]),
        "non_2xx": int(m.group(1)) if (m := re.search(r"Non-2xx.*?:\s+([0-9]+)", out)) else 0,
    }


def measure(worker: psutil.Process, url: str, headers: dict[str, str], args) -> Figures:
    before = worker.cpu_times()
    found = run_wrk(url, headers, args.duration, args.connections)
    after = worker.cpu_times()
    cpu = (after.user - before.user) + (after.system - before.system)
    return Figures(cpu_s=cpu, **found)


def only_worker(master_pid: int) -> psutil.Process:
    from tests.peers.process import wait_until

    master = psutil.Process(master_pid)
    wait_until(lambda: len(master.children()) == 1, 30, "one gunicorn worker")
    return master.children()[0]


def start_bare(workdir: Path):
    import requests

    from tests.peers.process import ServerProcess, free_port

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    # deploy/gunicorn.conf.py as it is (worker class, threads, keep-alive, malloc tuning), minus
    # the hook that starts syncapp's own background work in the worker.
    config = workdir / "gunicorn.conf.py"
    workdir.mkdir(parents=True)
    config.write_text(
        f"exec(open({str(REPO / 'deploy/gunicorn.conf.py')!r}).read())\n"
        "def post_worker_init(worker):\n    pass\n"
    )
    argv = [
        str(Path(sys.executable).parent / "gunicorn"),
        *("--config", str(config), "--bind", f"127.0.0.1:{port}"),
        "bench.api_rate:bare_app()",
    ]

    def healthy() -> bool:
        try:
            return requests.get(f"{url}/api/v1/health", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    env = {"SYNCAPP_SERVER_THREADS": str(THREADS), "SECRET_KEY": "bench"}
    process = ServerProcess("bare", argv, ready=healthy, log_dir=workdir, env=env, cwd=REPO)
    process.start()
    return process, url


def start_syncapp(workdir: Path):
    from tests.live import LiveServer

    server = LiveServer(
        workdir, threads=THREADS, env={"SYNCAPP_RATELIMIT_SYNCS": "10000000 per minute"}
    )
    workdir.mkdir(parents=True)
    server.prepare()
    return server.start()


def cpu_model_name() -> str:
    cpuinfo = Path("/proc/cpuinfo").read_text()
    found = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.M)
    return found.group(1) if found else platform.processor()


def line(name: str, f: Figures) -> str:
    return (
        f"  {name:<34} {f.rate:8.0f} req/s  p50 {f.p50_ms:6.1f} ms  p99 {f.p99_ms:6.1f} ms  "
        f"CPU {f.cpu_ms_per_request:5.2f} ms/request ({f.cpu_s:.1f} s)  non-2xx {f.non_2xx}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is missing: apt-get install wrk", file=sys.stderr)
        return 2
    cpu_model = cpu_model_name()
    print(
        f"CPU: {cpu_model}, {os.cpu_count()} cores; wrk -t2 -c{args.connections} -d{args.duration}s"
    )
    met = True
    with tempfile.TemporaryDirectory(prefix="api-rate-") as tmp:
        syncapp = start_syncapp(Path(tmp) / "syncapp")
        bare, bare_url = start_bare(Path(tmp) / "bare")
        try:
            app_worker = only_worker(syncapp.process.proc.pid)
            bare_worker = only_worker(bare.proc.pid)
            for run in range(1, args.repeat + 1):
                # Alternating within a run, so that drift on a shared machine hits both.
                bare_f = measure(bare_worker, f"{bare_url}/api/v1/syncs", {}, args)
                app_f = measure(app_worker, f"{syncapp.url}/api/v1/syncs", syncapp.headers, args)
                health_f = measure(app_worker, f"{syncapp.url}/api/v1/health", {}, args)
                ratio = app_f.rate / bare_f.rate
                cpu_ratio = app_f.cpu_ms_per_request / bare_f.cpu_ms_per_request
                ok = ratio >= TARGET_RATIO and app_f.p99_ms < TARGET_P99_MS and not app_f.non_2xx
                met = met and ok
                print(f"run {run}:")
                print(line("bare Flask GET /api/v1/syncs", bare_f))
                print(line("syncapp GET /api/v1/syncs (token)", app_f))
                print(line("syncapp GET /api/v1/health (public)", health_f))
                print(
                    f"  syncapp / bare: {ratio:.2f} x requests/s (target >= {TARGET_RATIO}), "
                    f"{cpu_ratio:.2f} x CPU per request; p99 {app_f.p99_ms:.1f} ms "
                    f"(target < {TARGET_P99_MS:.0f}): {'met' if ok else 'NOT met'}"
                )
        finally:
            syncapp.stop()
            bare.stop()
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
