"""Upload benchmark for seed 003's POST /upload: syncapp against nginx and a naive Flask receiver.

    .venv/bin/python bench/backup_upload.py [--size 1GiB] [--repeat 3] [--threads-cpu]
                                            [--content random|text] [--targets syncapp,...]

One archive (a real gzip stream: syncapp follows every upload to the end of its stream; of
random bytes, which deflate stores, or with --content text of words that compress about 3:1,
whose inflating costs more) goes with curl, in the same run and in rounds that take the
targets in turn, to:
- syncapp under gunicorn (deploy/gunicorn.conf.py, as scripts/serve runs it): `curl -F`;
- nginx (Debian's package, ngx_http_dav_module) accepting a PUT into a folder: `curl -T`;
- a naive Flask receiver defined below, as the original server did it:
  `request.files['file'].save()` then MD5 by re-reading, same gunicorn settings: `curl -F`.
It also times Python's `hashlib.md5` on the same file (single core). A receiver that must hash
cannot beat min(nginx, MD5 rate): that is the limit. Targets: syncapp >= 0.8 x limit, >= 3 x the
naive receiver, and the syncapp worker's peak RSS growth during an upload < 64 MiB.
Each time is the best of --repeat rounds (2 shared cores: noise only ever adds time); every
uploaded copy is checked (MD5 or size) and deleted, and the page cache is synced between uploads.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import psutil
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))

from backup_common import (
    GB,
    REPO,
    MiB,
    PeakMemory,
    best_of,
    fmt_times,
    gunicorn_worker,
    start_syncapp,
    verdict,
)

from syncapp.config import parse_size
from tests.peers.process import ServerProcess, free_port, port_open

BIN = Path(sys.executable).parent
TARGET_OF_LIMIT, TARGET_OF_NAIVE, TARGET_MEMORY = 0.8, 3.0, 64 * MiB


# -- the naive receiver (run by gunicorn as `backup_upload:naive_app()`) ------------------------


def naive_app():
    """The original server's upload: Werkzeug spools the file, save() copies it, MD5 re-reads it."""
    from flask import Flask, request
    from werkzeug.utils import secure_filename

    app = Flask("naive")
    folder = Path(os.environ["NAIVE_UPLOAD_DIR"])

    @app.get("/health")
    def health():
        return "ok"

    @app.post("/upload")
    def upload():
        upload = request.files["file"]
        path = folder / secure_filename(upload.filename or "upload.tar.gz")
        upload.save(path)
        md5 = hashlib.md5()
        with open(path, "rb") as saved:
            for chunk in iter(lambda: saved.read(4096), b""):
                md5.update(chunk)
        return {"status": "success", "md5": md5.hexdigest(), "size": path.stat().st_size}, 201

    return app


# -- data and the hashing limit ----------------------------------------------------------------


def _text_pool() -> bytes:
    """16 MiB of words: archives of source code, mail or logs compress like this (about 3:1)."""
    import random

    rng = random.Random(17)
    words = [
        "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 11)))
        for _ in range(6000)
    ]
    pool = " ".join(rng.choices(words, k=16 * MiB // 6)).encode()
    return pool[: 16 * MiB]


def make_archive(path: Path, size: int, content: str = "random") -> str:
    """A gzip stream of about `size` bytes (`content`: random or text); returns its MD5."""
    import random
    import zlib

    md5 = hashlib.md5()
    deflate = zlib.compressobj(1, zlib.DEFLATED, 31)  # gzip -1: fast to make
    pool = _text_pool() if content == "text" else b""
    rng = random.Random(3)
    written = 0
    with open(path, "wb") as out:
        while written < size:
            if pool:
                start = rng.randrange(len(pool) - 4 * MiB)
                block = pool[start : start + 4 * MiB]
            else:
                block = os.urandom(4 * MiB)
            packed = deflate.compress(block)
            out.write(packed)
            md5.update(packed)
            written += len(packed)
        packed = deflate.flush()
        out.write(packed)
        md5.update(packed)
    return md5.hexdigest()


def gzip_ok(path: Path) -> bool:
    return subprocess.run(["gzip", "-t", str(path)], check=False, timeout=600).returncode == 0


def md5_file(path: Path) -> str:
    md5 = hashlib.md5()
    buffer = memoryview(bytearray(MiB))
    with open(path, "rb", buffering=0) as source:
        while count := source.readinto(buffer):
            md5.update(buffer[:count])
    return md5.hexdigest()


# -- curl ----------------------------------------------------------------------------------------


@dataclass
class Reply:
    status: int
    seconds: float
    body: str


def curl(*args: str, workdir: Path) -> Reply:
    """Run curl; the time is curl's own time_total (request sent to reply received)."""
    reply = workdir / "curl-reply"
    done = subprocess.run(
        ["curl", "-sS", "-o", str(reply), "-w", "%{http_code} %{time_total}", *args],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    status, seconds = done.stdout.split()
    return Reply(int(status), float(seconds), reply.read_text(errors="replace"))


def check(reply: Reply, expected: int, what: str) -> None:
    if reply.status != expected:
        raise RuntimeError(f"{what}: HTTP {reply.status} (expected {expected}): {reply.body[:500]}")


# -- targets -------------------------------------------------------------------------------------


class Target:
    """A receiver: started once, then `upload` sends the archive and checks and removes the copy."""

    name, key = "", ""

    def start(self, base: Path) -> None:
        raise NotImplementedError

    def upload(self, archive: Path, md5: str, number: int) -> float:
        raise NotImplementedError

    def server_pid(self) -> int:
        """The process that receives the bytes (its memory is measured)."""
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError


class Syncapp(Target):
    name, key = "syncapp (curl -F)", "syncapp"

    def start(self, base: Path) -> None:
        self.workdir = base / "syncapp"
        self.server = start_syncapp(self.workdir, SYNCAPP_BACKUPS_MAX_SIZE="16GiB")
        self.verdicts: list[float] = []  # upload + wait for the gzip check's verdict, seconds

    def upload(self, archive: Path, md5: str, number: int) -> float:
        name = f"bench-{number}.tar.gz"
        reply = curl(
            "-H", f"Authorization: Bearer {self.server.token}",
            "-F", f"file=@{archive};filename={name}", "-F", "type=FULL", "-F", "profile=bench",
            f"{self.server.url}/upload",
            workdir=self.workdir,
        )  # fmt: skip
        check(reply, 201, self.name)
        if f'"md5":"{md5}"' not in reply.body.replace(" ", ""):
            raise RuntimeError(f"{self.name}: wrong MD5 in {reply.body[:300]}")
        self._await_verdict(name, reply.seconds)
        gone = requests.delete(
            f"{self.server.url}/backups/FULL/{name}", headers=self.server.headers, timeout=60
        )
        if gone.status_code != 204:
            raise RuntimeError(f"{self.name}: delete answered {gone.status_code}")
        return reply.seconds

    def _await_verdict(self, name: str, upload_seconds: float) -> None:
        """The archive's gzip check runs after the reply (syncapp/backups/integrity.py): wait
        for its verdict, so that it neither overlaps the next upload nor goes unmeasured.
        Polling is fine here (a benchmark, not a test): 20 ms adds at most that to the figure."""
        started = time.monotonic()
        while True:
            listed = requests.get(
                f"{self.server.url}/list?type=FULL", headers=self.server.headers, timeout=60
            ).json()["backups"]["FULL"]
            state = next((i.get("integrity") for i in listed if i["name"] == name), None)
            if state != "unverified":
                break
            time.sleep(0.02)
        if state not in (None, "verified"):  # None: a syncapp without the check
            raise RuntimeError(f"{self.name}: the archive was found {state}")
        waited = time.monotonic() - started
        self.verdicts.append(upload_seconds + waited)
        print(f"    gzip verdict {waited:.3f} s after the reply ({state or 'no check'})")

    def server_pid(self) -> int:
        assert self.server.process is not None and self.server.process.proc is not None
        return gunicorn_worker(self.server.process.proc.pid)

    def stop(self) -> None:
        self.server.stop()


class Naive(Target):
    name, key = "naive Flask (curl -F)", "naive"

    def start(self, base: Path) -> None:
        self.workdir = base / "naive"
        self.folder, spool = self.workdir / "uploads", self.workdir / "spool"
        self.folder.mkdir(parents=True)
        spool.mkdir()
        self.url = f"http://127.0.0.1:{free_port()}"
        # deploy/gunicorn.conf.py's settings, minus its syncapp-only post_worker_init hook.
        argv = [
            str(BIN / "gunicorn"), "--worker-class", "gthread", "--workers", "1",
            "--threads", "64", "--timeout", "600", "--keep-alive", "5", "--no-control-socket",
            "--bind", self.url.removeprefix("http://"),
            "--pythonpath", str(Path(__file__).resolve().parent), "backup_upload:naive_app()",
        ]  # fmt: skip
        env = {"NAIVE_UPLOAD_DIR": str(self.folder), "TMPDIR": str(spool)}
        self.process = ServerProcess(
            "naive", argv, ready=self._healthy, log_dir=self.workdir, env=env, cwd=REPO
        ).start()

    def _healthy(self) -> bool:
        try:
            return requests.get(f"{self.url}/health", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def upload(self, archive: Path, md5: str, number: int) -> float:
        name = f"bench-{number}.tar.gz"
        reply = curl("-F", f"file=@{archive};filename={name}", f"{self.url}/upload",
                     workdir=self.workdir)  # fmt: skip
        check(reply, 201, self.name)
        if md5 not in reply.body:
            raise RuntimeError(f"{self.name}: wrong MD5 in {reply.body[:300]}")
        (self.folder / name).unlink()
        return reply.seconds

    def server_pid(self) -> int:
        assert self.process.proc is not None
        return gunicorn_worker(self.process.proc.pid)

    def stop(self) -> None:
        self.process.stop()


NGINX_CONF = """\
{user}worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    server {{
        listen 127.0.0.1:{port};
        location /put/ {{
            alias {dir}/store/;
            dav_methods PUT;
            create_full_put_path on;
            client_max_body_size 0;
        }}
    }}
}}
"""


class Nginx(Target):
    name, key = "nginx (curl -T, PUT)", "nginx"

    def start(self, base: Path) -> None:
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        if not Path(nginx).exists():
            sys.exit("nginx is missing: apt-get install -y nginx")
        self.workdir = base / "nginx"
        (self.workdir / "store").mkdir(parents=True)
        self.port = free_port()
        user = "user root;\n" if os.geteuid() == 0 else ""  # as root, workers would be nobody
        conf = self.workdir / "nginx.conf"
        conf.write_text(NGINX_CONF.format(user=user, dir=self.workdir, port=self.port))
        argv = [nginx, "-c", str(conf), "-g", "daemon off;"]
        self.process = ServerProcess(
            "nginx", argv, ready=lambda: port_open(self.port), log_dir=self.workdir
        ).start()

    def upload(self, archive: Path, md5: str, number: int) -> float:
        name = f"bench-{number}.tar.gz"
        reply = curl("-T", str(archive), f"http://127.0.0.1:{self.port}/put/{name}",
                     workdir=self.workdir)  # fmt: skip
        check(reply, 201, self.name)
        stored = self.workdir / "store" / name
        if stored.stat().st_size != archive.stat().st_size:
            raise RuntimeError(f"{self.name}: stored {stored.stat().st_size} bytes")
        stored.unlink()
        return reply.seconds

    def server_pid(self) -> int:
        assert self.process.proc is not None
        return gunicorn_worker(self.process.proc.pid)  # nginx too: one master, one worker

    def stop(self) -> None:
        self.process.stop()


# -- measuring -----------------------------------------------------------------------------------


@dataclass
class Runs:
    seconds: list[float] = field(default_factory=list)
    growth: list[int] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)  # the server process's CPU seconds
    client_cpu: list[float] = field(default_factory=list)  # curl's CPU seconds

    def rate(self, size: int) -> float:
        return size / min(self.seconds) / GB


def cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


def children_cpu() -> float:
    """CPU of this process's finished children: during an upload, that is curl alone."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class ThreadCpu:
    """CPU seconds per thread of a process over a stretch of work (a sampling-free profile).

    The upload's helper threads end before the reply, so they are polled while it runs."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.first: dict[int, float] = {}
        self.last: dict[int, float] = {}
        self._stop = threading.Event()
        self._poller = threading.Thread(target=self._poll, daemon=True)

    def _sample(self) -> None:
        initial = not self.last  # threads seen later started during the work: from 0
        for thread in self.process.threads():
            cpu = thread.user_time + thread.system_time
            self.first.setdefault(thread.id, cpu if initial else 0.0)
            self.last[thread.id] = cpu

    def _poll(self) -> None:
        while not self._stop.wait(0.02):
            self._sample()

    def __enter__(self) -> ThreadCpu:
        self._sample()
        self._poller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._poller.join()
        self._sample()

    def summary(self) -> str:
        spent = sorted(((self.last[t] - self.first[t], t) for t in self.last), reverse=True)
        return ", ".join(f"thread {tid}: {cpu:.2f}s" for cpu, tid in spent[:5] if cpu >= 0.02)


def measure(target: Target, archive: Path, md5: str, number: int, runs: Runs, threads: bool):
    pid = target.server_pid()
    process = psutil.Process(pid)
    cpu_before, client_before = cpu_seconds(process), children_cpu()
    threads = threads and isinstance(target, Syncapp)
    with PeakMemory(pid) as memory, ThreadCpu(pid) if threads else contextlib.nullcontext() as cpu:
        seconds = target.upload(archive, md5, number)
    runs.seconds.append(seconds)
    runs.growth.append(memory.growth)
    runs.cpu.append(cpu_seconds(process) - cpu_before)
    runs.client_cpu.append(children_cpu() - client_before)
    if threads:
        print(f"    syncapp worker CPU by thread: {cpu.summary()}")
    os.sync()  # the next upload must not pay for this one's writeback
    size = archive.stat().st_size
    print(f"  {target.name:24} {seconds:7.3f} s  {size / seconds / GB:5.2f} GB/s", flush=True)


# -- report --------------------------------------------------------------------------------------


def report(args, size: int, results: dict[str, Runs], md5_times: list[float]) -> None:
    md5_rate = size / min(md5_times) / GB
    rates = {name: runs.rate(size) for name, runs in results.items()}
    print(f"\n{size / GB:.3f} GB archive, best of {args.repeat} rounds, {date.today()}, "
          f"{os.cpu_count()} cores")  # fmt: skip
    print(f"{'receiver':24} {'best s':>8} {'GB/s':>6} {'CPU s':>6} {'curl':>5} "
          f"{'RSS growth':>11}  runs (s)")  # fmt: skip
    for name, runs in results.items():
        print(
            f"{name:24} {min(runs.seconds):8.3f} {rates[name]:6.2f} {min(runs.cpu):6.2f} "
            f"{min(runs.client_cpu):5.2f} {max(runs.growth) / MiB:7.1f} MiB  "
            f"{fmt_times(runs.seconds)}"
        )
    print(f"{'hashlib.md5, 1 core':24} {min(md5_times):8.3f} {md5_rate:6.2f}"
          f"{'':29}  {fmt_times(md5_times)}")  # fmt: skip
    print("(CPU s: the receiving process's CPU seconds per upload, curl: the client's; least of"
          " the rounds)")  # fmt: skip
    if len(rates) < 3:
        return  # --targets left some out: no ratios
    syncapp, nginx, naive = (rates[t.name] for t in (Syncapp, Nginx, Naive))
    limit = min(nginx, md5_rate)
    growth = max(results[Syncapp.name].growth)
    print(f"\nlimit = min(nginx, md5) = {limit:.2f} GB/s")
    print(f"syncapp / limit = {syncapp / limit:.2f} (target >= {TARGET_OF_LIMIT}): "
          f"{verdict(syncapp / limit >= TARGET_OF_LIMIT)}")  # fmt: skip
    print(f"syncapp / naive = {syncapp / naive:.2f} (target >= {TARGET_OF_NAIVE}): "
          f"{verdict(syncapp / naive >= TARGET_OF_NAIVE)}")  # fmt: skip
    print(f"syncapp / nginx = {syncapp / nginx:.2f}; syncapp / md5 = {syncapp / md5_rate:.2f}")
    print(f"syncapp worker peak RSS growth = {growth / MiB:.1f} MiB (worst upload; target < "
          f"{TARGET_MEMORY // MiB} MiB): {verdict(growth < TARGET_MEMORY)}")  # fmt: skip


def run(args, base: Path) -> None:
    size = parse_size(args.size)
    archive = base / "archive.tar.gz"
    print(f"making a {size / GB:.3f} GB archive ({args.content}) in {base} ...", flush=True)
    md5 = make_archive(archive, size, args.content)
    size = archive.stat().st_size
    print(f"  {size} bytes, gzip -t: {'ok' if gzip_ok(archive) else 'FAILED'}", flush=True)
    chosen = set(args.targets.split(","))
    targets: list[Target] = [t() for t in (Syncapp, Nginx, Naive) if t.key in chosen]
    try:
        for target in targets:
            target.start(base)
        results = {target.name: Runs() for target in targets}
        for number in range(args.repeat):
            print(f"round {number + 1}/{args.repeat}", flush=True)
            for target in targets:
                measure(target, archive, md5, number, results[target.name], args.threads_cpu)
        _, md5_times = best_of(args.repeat, lambda: md5_file(archive))
        report(args, size, results, md5_times)
        for target in targets:
            if isinstance(target, Syncapp) and target.verdicts:
                print(f"syncapp upload + gzip verdict: best {min(target.verdicts):.3f} s "
                      f"({fmt_times(target.verdicts)})")  # fmt: skip
    finally:
        for target in targets:
            if hasattr(target, "workdir"):
                target.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", default="1GiB", help="archive size (default 1GiB)")
    parser.add_argument("--repeat", type=int, default=3, help="rounds; the best is kept")
    parser.add_argument(
        "--threads-cpu", action="store_true", help="print the syncapp worker's CPU per thread"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temp folder (debugging)")
    parser.add_argument(
        "--content", choices=("random", "text"), default="random", help="what the gzip holds"
    )
    parser.add_argument(
        "--targets", default="syncapp,nginx,naive", help="comma-separated: syncapp,nginx,naive"
    )
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="bench-upload-", dir="/tmp"))
    started = time.monotonic()
    try:
        run(args, base)
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
    print(f"(took {time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    main()
