"""Restarting syncapp with Cordiax clients connected (issue 17, item 5).

    .venv/bin/python bench/cordiax_restart.py [--clients 50] [--repeat 3]

Starts syncapp as deployed (gunicorn, deploy/gunicorn.conf.py) and --clients replicas of the
Cordiax desktop client (tests/clients/cordiax_client.py under its own python-socketio 5.11, one
process running them side by side). Once every client has pushed, it times
(a) the stop: SIGTERM to gunicorn's process group until the master has exited, and
(b) the restart: from the SIGTERM until every client has reconnected to the new server.
It also counts "cannot schedule new futures" lines in the server's log. Target: (a) < 5 s.
Before the fix a worker waited its whole graceful timeout (60 s) for the open WebSockets.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.clients.test_cordiax_client import CLIENT_PYTHON, Replica, data_dir  # noqa: E402
from tests.cordiax.payloads import sqlite_database  # noqa: E402
from tests.live import LiveServer  # noqa: E402
from tests.peers.process import wait_until  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if not CLIENT_PYTHON.exists():
        sys.exit("run scripts/install_peers first (the Cordiax client's python-socketio)")
    work = Path(tempfile.mkdtemp(prefix="cordiax-restart-"))
    server = LiveServer(work / "server", threads=args.clients * 2 + 50)
    (work / "server").mkdir()
    server.prepare()
    server.start()
    for i in range(args.clients):
        data_dir(work / "fleet" / str(i), sqlite_database(4096, seed=i))
    replica = Replica(
        f"{server.url}?token={server.token}", work / "fleet", "fleet", clients=args.clients
    )
    names = [f"fleet-{i}" for i in range(args.clients)]
    stops, restarts = [], []
    try:
        for round_ in range(1, args.repeat + 1):
            wait_until(
                lambda r=round_: all(replica.count("pushed", n) >= r for n in names),
                300,
                "every client to push",
            )
            proc = server.process.proc
            began = time.monotonic()
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(120)
            stops.append(time.monotonic() - began)
            server.start()
            if not replica.wait_for(
                lambda r=round_: all(replica.count("connected", n) > r for n in names), 300
            ):
                sys.exit("not every client reconnected")
            restarts.append(time.monotonic() - began)
            print(
                f"round {round_}: stop {stops[-1]:.2f} s (exit code {proc.returncode}), "
                f"all {args.clients} reconnected after {restarts[-1]:.2f} s",
                flush=True,
            )
    finally:
        replica.close()
        server.stop()
    log = server.process.log_path.read_text(errors="replace")
    print(
        f"stop: median {statistics.median(stops):.2f} s, max {max(stops):.2f} s; "
        f"reconnected: median {statistics.median(restarts):.2f} s; "
        f"'cannot schedule new futures' lines: {log.count('cannot schedule new futures')}; "
        f"tracebacks: {log.count('Traceback')}"
    )


if __name__ == "__main__":
    main()
