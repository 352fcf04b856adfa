"""Cordiax push benchmark: syncapp's /cordiax-sync/ against the bare transport, and idle memory.

    .venv/bin/python bench/cordiax_push.py [--size 10MiB] [--repeat 7] [--idle-clients 500]
                                           [--threads 600] [--helpers 5]

In one run, with one Cordiax-like python-socketio client (token and device in the URL's query,
waits for `sync_request`, emits `sync_data` {"data": "<hex>"}, waits for `sync_ack`):

(a) time to push a --size database to syncapp's /cordiax-sync/ (decoded, hashed, stored,
    deduplicated, indexed, announced on /events),
(b) the same push to a bare Flask-SocketIO handler defined below that only receives the event and
    answers `sync_ack` (the transport's own cost),
(c) an HTTP upload of the same bytes to syncapp's POST /upload (multipart, the backup route); the
    route wants gzip, so the first two bytes are replaced by gzip's magic (same size).

Both servers run under gunicorn with the same settings: one process, -k gthread, --threads N
(N above the idle clients), the same engine.io buffer limit and ping timeout, the same malloc
tuning (mallopt in the worker for syncapp, glibc's MALLOC_* variables for the bare one). Each
repetition pushes a different database (distinct bytes: syncapp's deduplication never
short-circuits (a));
(a), (b) and (c) alternate within a repetition so that drift on the shared machine hits all three.
The push timer runs from the emit to the arrival of `sync_ack`; the hex string is made before.
Also reported: (a) again with bytes syncapp already has (its deduplicated path).

Targets (issue 23): median (a) <= 1.1 x median (b), worker CPU per push <= 1.3 x. Then the
memory of the gunicorn worker (RSS, psutil) before and with --idle-clients connected idle Cordiax
clients (held by --helpers processes), for syncapp (target < 300 MiB) and, for comparison, for
the bare server.
"""

from __future__ import annotations

import argparse
import os
import queue
import re
import runpy
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

NAMESPACE = "/cordiax-sync/"
MiB = 1024 * 1024
# What syncapp gives engine.io by default: max(socketio.max_http_buffer_size, 2 x 100 MiB + 1 MiB).
BUFFER_SIZE = 210 * MiB
PING_TIMEOUT = 30
TARGET_RATIO = 1.1  # issue 23: wall time, median, against the bare handler
TARGET_CPU = 1.3  # and the worker's CPU seconds per push
TARGET_MEMORY = 300 * MiB
GZIP_MAGIC = b"\x1f\x8b"


# -- the bare server (gunicorn imports this module: keep its top level light) -----------------


def bare_app():
    """gunicorn 'bench.cordiax_push:bare_app()': Flask-SocketIO that only receives sync_data."""
    from flask import Flask
    from flask_socketio import Namespace, SocketIO, emit

    app = Flask("bare_cordiax")
    socketio = SocketIO(
        app,
        async_mode="threading",
        max_http_buffer_size=BUFFER_SIZE,
        ping_timeout=PING_TIMEOUT,
        always_connect=True,
    )

    class BareNamespace(Namespace):
        def on_connect(self, auth: Any = None) -> None:
            emit("sync_request", {})

        def on_sync_data(self, data: Any = None) -> None:
            emit("sync_ack", {"status": "ok"})

    socketio.on_namespace(BareNamespace(NAMESPACE))

    @app.get("/api/v1/health")
    def health():
        return {"status": "ok"}

    return app


# -- servers ----------------------------------------------------------------------------------


def start_syncapp(workdir: Path, threads: int):
    from tests.live import LiveServer

    server = LiveServer(workdir / "syncapp", threads=threads)
    server.workdir.mkdir(parents=True)
    server.prepare()
    return server.start()


class BareServer:
    def __init__(self, workdir: Path, threads: int) -> None:
        import requests

        from tests.peers.process import ServerProcess, free_port

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.token = "unused"
        argv = [
            str(Path(sys.executable).parent / "gunicorn"),
            # deploy/gunicorn.conf.py's settings, given on the command line
            *("--worker-class", "gthread", "--workers", "1", "--threads", str(threads)),
            *("--bind", f"127.0.0.1:{self.port}", "--timeout", "600"),
            *("--graceful-timeout", "30", "--keep-alive", "5", "--no-control-socket"),
            *("--access-logfile", "-", "--access-logformat", '%(h)s "%(r)s" %(s)s %(b)s %(M)sms'),
            "bench.cordiax_push:bare_app()",
        ]

        def healthy() -> bool:
            try:
                return requests.get(f"{self.url}/api/v1/health", timeout=2).status_code == 200
            except requests.RequestException:
                return False

        # and the worker's malloc tuning, which gunicorn.conf.py applies with mallopt() in
        # post_fork: the same values through glibc's environment variables
        conf = runpy.run_path(str(REPO / "deploy" / "gunicorn.conf.py"))
        env = {
            "MALLOC_ARENA_MAX": str(conf["MALLOC_ARENAS"]),
            "MALLOC_MMAP_THRESHOLD_": str(conf["MALLOC_MMAP_THRESHOLD"]),
        }
        workdir.mkdir(parents=True)
        self.process = ServerProcess(
            "bare", argv, ready=healthy, log_dir=workdir, env=env, cwd=REPO
        )
        self.process.start()

    def stop(self) -> None:
        self.process.stop()


def worker_of(server) -> Any:
    """The gunicorn worker process (the master only forks and watches it)."""
    import psutil

    from tests.peers.process import wait_until

    master = psutil.Process(server.process.proc.pid)
    wait_until(lambda: len(master.children()) == 1, 30, "one gunicorn worker")
    return master.children()[0]


# -- the Cordiax-like client ------------------------------------------------------------------


class PushClient:
    """Connects like Cordiax (query carries token and device) and pushes hex with a plain emit."""

    def __init__(self, url: str, token: str, device: str) -> None:
        import socketio

        self.events: queue.Queue[tuple[str, Any]] = queue.Queue()
        self.sio = socketio.Client(reconnection=False, handle_sigint=False)
        for name in ("sync_request", "sync_ack", "sync_error"):
            self.sio.on(name, self._recorder(name), namespace=NAMESPACE)
        self.sio.connect(
            f"{url}?token={token}&device={device}", namespaces=[NAMESPACE], wait_timeout=30
        )
        self.expect("sync_request", 30)
        if self.sio.transport() != "websocket":
            raise RuntimeError(f"the client runs over {self.sio.transport()}, not websocket")

    def _recorder(self, name: str) -> Callable[..., None]:
        return lambda data=None: self.events.put((name, data))

    def expect(self, name: str, timeout: float) -> Any:
        got, data = self.events.get(timeout=timeout)
        if got != name:
            raise RuntimeError(f"expected {name}, the server sent {got}: {data}")
        return data

    def push(self, payload_hex: str) -> tuple[float, dict]:
        started = time.perf_counter()
        self.sio.emit("sync_data", {"data": payload_hex}, namespace=NAMESPACE)
        ack = self.expect("sync_ack", 300)
        return time.perf_counter() - started, ack

    def close(self) -> None:
        self.sio.disconnect()


class Uploader:
    """POST /upload with a prepared multipart body: the timer covers the transfer and the server."""

    def __init__(self, url: str, token: str) -> None:
        import requests

        self.url = url
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"

    def upload(self, data: bytes, name: str) -> float:
        import requests

        request = requests.Request(
            "POST",
            f"{self.url}/upload",
            files={"file": (name, data, "application/gzip")},
            data={"type": "FULL", "profile": "bench-cordiax"},
        )
        prepared = self.session.prepare_request(request)
        started = time.perf_counter()
        response = self.session.send(prepared, timeout=300)
        elapsed = time.perf_counter() - started
        if response.status_code != 201:
            raise RuntimeError(f"upload refused: {response.status_code} {response.text[:300]}")
        return elapsed


# -- push timings -----------------------------------------------------------------------------


def database(size: int, seed: int) -> bytes:
    from tests.cordiax.payloads import sqlite_database

    return sqlite_database(size, seed=seed)


def cpu_seconds(worker) -> float:
    times = worker.cpu_times()
    return times.user + times.system


def measure_pushes(syncapp, bare, size: int, repeat: int, log) -> dict[str, list[float]]:
    """Wall-clock seconds per push for (a), (b), (c) and (a) deduplicated, and beside each the
    worker's CPU seconds for it ("cpu:a", ...): CPU time barely moves when the shared machine is
    busy, wall-clock time does."""
    times: dict[str, list[float]] = {k: [] for k in ("a", "b", "c", "a_dedup")}
    times.update({f"cpu:{k}": [] for k in ("a", "b", "c", "a_dedup")})
    workers = {"a": worker_of(syncapp), "b": worker_of(bare)}
    mine = PushClient(syncapp.url, syncapp.token, "bench-push")
    plain = PushClient(bare.url, bare.token, "bench-push")
    uploader = Uploader(syncapp.url, syncapp.token)

    def record(series: str, worker, action: Callable[..., Any], *args: Any) -> Any:
        cpu = cpu_seconds(worker)
        result = action(*args)
        times[f"cpu:{series}"].append(cpu_seconds(worker) - cpu)
        elapsed = result[0] if isinstance(result, tuple) else result
        times[series].append(elapsed)
        return result

    try:
        warm = database(size, seed=10_000)  # first request of each kind pays imports and caches
        mine.push(warm.hex())
        plain.push(warm.hex())
        uploader.upload(GZIP_MAGIC + warm[2:], "warmup.tar.gz")
        for run in range(repeat):
            data = database(size, seed=run)
            payload_hex = data.hex()
            _, ack = record("a", workers["a"], mine.push, payload_hex)
            if not ack.get("created") or ack.get("size") != size:
                raise RuntimeError(f"syncapp did not store a new snapshot: {ack}")
            record("b", workers["b"], plain.push, payload_hex)
            named = f"bench_{run:03d}.tar.gz"
            record("c", workers["a"], uploader.upload, GZIP_MAGIC + data[2:], named)
            _, ack = record("a_dedup", workers["a"], mine.push, payload_hex)
            if ack.get("created"):
                raise RuntimeError(f"syncapp stored a duplicate: {ack}")
            log(
                f"  run {run + 1}/{repeat}: (a) {times['a'][-1]:.3f} s  (b) {times['b'][-1]:.3f} s"
                f"  (c) {times['c'][-1]:.3f} s  (a, same bytes again) {times['a_dedup'][-1]:.3f} s"
            )
    finally:
        mine.close()
        plain.close()
    return times


# -- idle clients -----------------------------------------------------------------------------


def idle_helper(url: str, token: str, prefix: str, count: int) -> int:
    """Child process: hold `count` idle Cordiax connections until stdin closes."""
    import socketio

    clients = []
    for n in range(count):
        sio = socketio.Client(reconnection=False, handle_sigint=False)
        sio.on("sync_request", lambda data=None: None, namespace=NAMESPACE)
        sio.connect(
            f"{url}?token={token}&device={prefix}-{n:03d}", namespaces=[NAMESPACE], wait_timeout=60
        )
        clients.append(sio)
    print(f"ready {len(clients)}", flush=True)
    sys.stdin.read()  # the parent closes our stdin when it has measured
    for sio in clients:
        sio.disconnect()
    return 0


def established(worker, port: int) -> int:
    return sum(
        1
        for c in worker.net_connections(kind="tcp")
        if c.status == "ESTABLISHED" and c.laddr and c.laddr.port == port
    )


def measure_idle(server, port: int, clients: int, helpers: int, label: str, log) -> dict:
    from tests.peers.process import wait_until

    worker = worker_of(server)
    probe = PushClient(server.url, server.token, f"{label}-probe")  # imports, first connection
    probe.close()
    before = worker.memory_info().rss
    threads_before = worker.num_threads()
    share = [clients // helpers + (1 if i < clients % helpers else 0) for i in range(helpers)]
    processes = [
        subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--idle-helper",
                server.url,
                server.token,
                f"{label}-{i}",
                str(n),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for i, n in enumerate(share)
        if n
    ]
    started = time.monotonic()
    try:
        connected = 0
        for process in processes:
            line = process.stdout.readline()
            if not line.startswith("ready"):
                raise RuntimeError(f"an idle-client helper failed (exit {process.wait(60)})")
            connected += int(line.split()[1])
        connect_time = time.monotonic() - started
        wait_until(lambda: established(worker, port) >= clients, 60, f"{clients} connections")
        during = worker.memory_info().rss
        threads_during = worker.num_threads()
        connections = established(worker, port)
    finally:
        for process in processes:
            process.stdin.close()
        for process in processes:
            process.wait(120)
    wait_until(lambda: established(worker, port) == 0, 120, "the idle clients to leave")
    after = worker.memory_info().rss
    log(
        f"  {label}: {connected} clients connected in {connect_time:.1f} s ({connections} TCP "
        f"connections to the worker); RSS "
        f"{before / MiB:.0f} MiB -> {during / MiB:.0f} MiB ({threads_before} -> "
        f"{threads_during} threads), {after / MiB:.0f} MiB after they left"
    )
    return {
        "before": before,
        "during": during,
        "after": after,
        "threads": threads_during,
        "clients": connected,
        "tcp": connections,
        "connect_time": connect_time,
    }


# -- report -----------------------------------------------------------------------------------


def summary(values: list[float]) -> str:
    return (
        f"median {statistics.median(values):.3f} s  min {min(values):.3f} s  "
        f"max {max(values):.3f} s"
    )


def report(times: dict[str, list[float]], memory: dict[str, dict], args, log) -> bool:
    med = {k: statistics.median(v) for k, v in times.items()}
    low = {k: min(v) for k, v in times.items()}
    size = f"{args.size / MiB:g} MiB"
    log("")
    log(f"Push of a {size} database ({2 * args.size / MiB:g} MiB of hex), {args.repeat} runs:")
    log(f"  (a) syncapp /cordiax-sync/        {summary(times['a'])}")
    log(f"  (b) bare Flask-SocketIO handler   {summary(times['b'])}")
    log(f"  (c) HTTP POST /upload (same size) {summary(times['c'])}")
    log(f"  (a) again with the same bytes     {summary(times['a_dedup'])}")
    ratio = med["a"] / med["b"]
    cpu_ratio = med["cpu:a"] / med["cpu:b"]
    verdict = "met" if ratio <= TARGET_RATIO else f"MISSED by {ratio / TARGET_RATIO - 1:.0%}"
    log(
        f"  (a)/(b) = {ratio:.2f} (median), {low['a'] / low['b']:.2f} (min); "
        f"target <= {TARGET_RATIO}: {verdict}"
    )
    log(f"  (a)-(b) = {(med['a'] - med['b']) * 1000:.0f} ms added by syncapp (median)")
    log(f"  (a)/(c) = {med['a'] / med['c']:.1f} (median), {low['a'] / low['c']:.1f} (min)")
    log(f"  (a same bytes)/(b) = {med['a_dedup'] / med['b']:.2f} (median)")
    log(
        "  worker CPU per push (median): "
        + ", ".join(
            f"({k.replace('_dedup', ', same bytes')}) {med['cpu:' + k] * 1000:.0f} ms"
            for k in ("a", "b", "c", "a_dedup")
        )
        + f"; (a)/(b) = {cpu_ratio:.2f} (target <= {TARGET_CPU}: "
        + ("met" if cpu_ratio <= TARGET_CPU else f"MISSED by {cpu_ratio / TARGET_CPU - 1:.0%}")
        + ")"
    )
    ok = ratio <= TARGET_RATIO and cpu_ratio <= TARGET_CPU
    for label, found in memory.items():
        growth = found["during"] - found["before"]
        line = (
            f"  {label}: worker RSS {found['during'] / MiB:.0f} MiB with "
            f"{found['clients']} idle clients ({found['before'] / MiB:.0f} MiB before, "
            f"{growth / max(found['clients'], 1) / 1024:.0f} KiB per client)"
        )
        if label == "syncapp":
            met = found["during"] < TARGET_MEMORY
            ok = ok and met
            line += f"; target < {TARGET_MEMORY // MiB} MiB: " + (
                "met" if met else f"MISSED by {found['during'] / TARGET_MEMORY - 1:.0%}"
            )
        log(line)
    return ok


def parse_size(text: str) -> int:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(|KiB|MiB|GiB)", text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (e.g. 10MiB)")
    factor = {"": 1, "KiB": 1024, "MiB": MiB, "GiB": 1024 * MiB}[match.group(2)]
    return int(float(match.group(1)) * factor)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=parse_size, default=10 * MiB, help="default 10MiB")
    parser.add_argument("--repeat", type=int, default=7, help="pushes measured per server")
    parser.add_argument("--idle-clients", type=int, default=500, help="0 skips the memory test")
    parser.add_argument("--helpers", type=int, default=5, help="processes holding idle clients")
    parser.add_argument("--threads", type=int, default=600, help="gunicorn --threads (both)")
    parser.add_argument("--idle-helper", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.idle_clients and args.threads <= args.idle_clients + 16:
        parser.error("--threads must exceed --idle-clients (every WebSocket holds a thread)")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.idle_helper:
        url, token, prefix, count = args.idle_helper
        return idle_helper(url, token, prefix, int(count))

    def log(line: str) -> None:
        print(line, flush=True)

    log(f"$ {' '.join([Path(sys.executable).name, *sys.argv])}")
    with tempfile.TemporaryDirectory(prefix="bench-cordiax-") as tmp:
        workdir = Path(tmp)
        log(f"starting syncapp and the bare server (gunicorn gthread, {args.threads} threads)")
        syncapp = start_syncapp(workdir, args.threads)
        bare = None
        try:
            bare = BareServer(workdir / "bare", args.threads)
            memory = {}
            if args.idle_clients:
                log(f"idle clients: {args.idle_clients} in {args.helpers} helper processes")
                memory["syncapp"] = measure_idle(
                    syncapp, syncapp.port, args.idle_clients, args.helpers, "syncapp", log
                )
                memory["bare"] = measure_idle(
                    bare, bare.port, args.idle_clients, args.helpers, "bare", log
                )
            log(f"pushes: {args.repeat} runs of {args.size / MiB:g} MiB (after one warm-up each)")
            times = measure_pushes(syncapp, bare, args.size, args.repeat, log)
            ok = report(times, memory, args, log)
            after = {
                name: worker_of(s).memory_info().rss
                for name, s in (("syncapp", syncapp), ("bare", bare))
            }
            log(
                f"  worker RSS after the pushes: syncapp {after['syncapp'] / MiB:.0f} MiB, "
                f"bare {after['bare'] / MiB:.0f} MiB"
            )
        finally:
            if bare is not None:
                bare.stop()
            syncapp.stop()
    return 0 if ok else 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
