"""Scrub benchmark: how fast the integrity scrub reads stored objects back, and what a running
scrub costs a concurrent upload.

    .venv/bin/python bench/scrub.py [--size 2GiB] [--file-size 64MiB] [--repeat 3]
                                    [--upload-size 512MiB] [--skip-upload]

(1) Throughput. `--size` bytes of stored objects, half documents (the scrub computes MD5) and
half Cordiax snapshots (SHA-256), written into a fresh instance's stores with their rows. In the
same run and in rounds that take the readers in turn:
- the scrub, in this process: `Scrubber.run()` over a pass with `workers=2` and no rate limit
  (what `flask scrub run` does with `scrub.workers: 2`, `scrub.max_rate: 0`);
- `md5sum` over every file, in 2 parallel processes (half the files each);
- `sha256sum` over every file, in 2 parallel processes.
Target: the scrub >= 0.9 x the faster of md5sum and sha256sum. The scrub computes one digest
per object (the one recorded), the tools one per file each: both read every byte once.

(2) Upload beside a scrub. syncapp under gunicorn (deploy/gunicorn.conf.py, as scripts/serve
runs it) with the default `scrub.max_rate`; one `--upload-size` archive sent with `curl -F` to
POST /upload while the server is idle, then while `flask scrub run` (a process of its own, as
the leader's job would be) reads the same server's stores. Target: the upload's throughput
during the scrub within 20 % of the idle one (ratio >= 0.8). The scrub's set is made large
enough to outlast the upload at the default rate.

Each time is the best of --repeat rounds (2 shared cores: noise only ever adds time); CPU
seconds (user + system) are printed beside each wall time. Page cache: every reader reads the
files just written (warm), as a scrub soon after writes would; run with a --size above the RAM
to measure the disks instead.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))

from backup_common import REPO, MiB, fmt_times, start_syncapp, verdict

from syncapp import create_app
from syncapp.config import parse_size

BIN = Path(sys.executable).parent
TARGET_OF_TOOLS, TARGET_UPLOAD = 0.9, 0.8


# --- (1) throughput --------------------------------------------------------------------------


def _fill(path: Path, size: int, seed: int) -> tuple[str, str]:
    """Write `size` pseudo-random bytes to `path` (fast: a repeated random block); its MD5 and
    SHA-256."""
    block = hashlib.sha256(str(seed).encode()).digest() * (MiB // 32)
    block = os.urandom(64) + block[64:]  # no two files alike
    md5, sha = hashlib.md5(), hashlib.sha256()
    with open(path, "wb") as out:
        left = size
        while left:
            piece = block[: min(left, len(block))]
            out.write(piece)
            md5.update(piece)
            sha.update(piece)
            left -= len(piece)
    return md5.hexdigest(), sha.hexdigest()


def make_store(workdir: Path, total: int, file_size: int):
    """An app over `workdir` whose documents and Cordiax stores hold `total` bytes; the app and
    the stored files' paths."""
    from syncapp.auth.accounts import create_user
    from syncapp.cordiax.models import CordiaxSnapshot
    from syncapp.documents.models import Document
    from syncapp.extensions import db

    app = create_app(
        {
            "instance_path": str(workdir / "instance"),
            "database": {"url": f"sqlite:///{workdir / 'bench.db'}"},
            "logging": {"file": str(workdir / "syncapp.log"), "level": "WARNING"},
            "security": {"secret_key": "bench-scrub"},
            "backups": {"root": str(workdir / "remote_backups")},
            "scheduler": {"enabled": False},
        }
    )
    files: list[Path] = []
    with app.app_context():
        db.create_all()
        owner = create_user("bench@example.com", "bench-password-123", role="admin")
        count = max(2, total // file_size)
        for n in range(count):
            kind = "document" if n % 2 == 0 else "cordiax"
            folder = Path(app.instance_path) / ("documents" if kind == "document" else "cordiax")
            relative = f"bench/{n:05d}.bin"
            path = folder / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            md5, sha = _fill(path, file_size, n)
            files.append(path)
            if kind == "document":
                db.session.add(
                    Document(
                        owner_id=owner.id,
                        type="invoice",
                        document_date=date(2026, 1, 1),
                        filename=f"{n}.bin",
                        stored_path=relative,
                        size=file_size,
                        md5=md5,
                    )
                )
            else:
                db.session.add(
                    CordiaxSnapshot(
                        user_id=owner.id,
                        device="bench",
                        version=f"v{n:05d}",
                        path=relative,
                        sha256=sha,
                        size=file_size,
                        kind="sqlite",
                    )
                )
        db.session.commit()
    return app, files


def children_cpu() -> float:
    usage = os.times()
    return usage.children_user + usage.children_system


def time_tool(tool: str, files: list[Path]) -> tuple[float, float]:
    """`tool` over `files` in 2 parallel processes; (wall seconds, their CPU seconds)."""
    halves = [files[0::2], files[1::2]]
    cpu0, start = children_cpu(), time.perf_counter()
    procs = [
        subprocess.Popen([tool, *map(str, half)], stdout=subprocess.DEVNULL) for half in halves
    ]
    for proc in procs:
        if proc.wait() != 0:
            raise RuntimeError(f"{tool} failed")
    return time.perf_counter() - start, children_cpu() - cpu0


def time_scrub(app) -> tuple[float, float, int]:
    """One whole pass, workers=2, no rate limit; (wall, this process's CPU, bytes read)."""
    from syncapp.extensions import db
    from syncapp.scrub.wiring import scrubber

    with app.app_context():
        service = scrubber(max_rate=None, workers=2, slice_seconds=None)
        service.request("cli")
        cpu0, start = time.process_time(), time.perf_counter()
        done = service.run()
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu0
        if done is None or not done.finished or done.found["ok"] != done.objects:
            raise RuntimeError(f"the scrub did not read every object ok: {done}")
        db.session.remove()
    return wall, cpu, done.bytes


def throughput(args) -> bool:
    with tempfile.TemporaryDirectory(prefix="bench-scrub-") as tmp:
        app, files = make_store(Path(tmp), args.size, args.file_size)
        total = sum(f.stat().st_size for f in files)
        results: dict[str, list[tuple[float, float]]] = {"scrub": [], "md5sum": [], "sha256sum": []}
        for _ in range(args.repeat):
            wall, cpu, read = time_scrub(app)
            if read != total:
                raise RuntimeError(f"the scrub read {read} bytes of {total}")
            results["scrub"].append((wall, cpu))
            results["md5sum"].append(time_tool("md5sum", files))
            results["sha256sum"].append(time_tool("sha256sum", files))
    best = {name: min(runs) for name, runs in results.items()}
    rate = {name: total / best[name][0] for name in best}
    print(
        f"(1) {len(files)} files, {total / MiB:.0f} MiB (half MD5-recorded documents, half "
        f"SHA-256-recorded Cordiax snapshots), best of {args.repeat}:"
    )
    for name in ("scrub", "md5sum", "sha256sum"):
        wall, cpu = best[name]
        times = fmt_times([w for w, _ in results[name]])
        print(
            f"  {name:10s} {wall:7.3f} s  {rate[name] / MiB:8.1f} MiB/s  CPU {cpu:6.2f} s"
            f"   ({times})"
        )
    faster = max(rate["md5sum"], rate["sha256sum"])
    ratio = rate["scrub"] / faster
    print(
        f"  scrub / md5sum {rate['scrub'] / rate['md5sum']:.2f}, scrub / sha256sum "
        f"{rate['scrub'] / rate['sha256sum']:.2f}; against the faster: {ratio:.2f} "
        f"(target >= {TARGET_OF_TOOLS}): {verdict(ratio >= TARGET_OF_TOOLS)}"
    )
    return ratio >= TARGET_OF_TOOLS


# --- (2) an upload beside a running scrub -----------------------------------------------------


def _archive(path: Path, size: int) -> None:
    """A gzip file of incompressible bytes (deflate stores them): `size` bytes, about."""
    import gzip

    with gzip.open(path, "wb", compresslevel=1) as out:
        left = size
        while left:
            piece = os.urandom(min(left, 4 * MiB))
            out.write(piece)
            left -= len(piece)


def _upload(server, path: Path, name: str) -> float:
    start = time.perf_counter()
    subprocess.run(
        [
            "curl",
            "-sS",
            "-f",
            "-o",
            "/dev/null",
            "-H",
            f"Authorization: Bearer {server.token}",
            "-F",
            f"file=@{path};filename={name}",
            "-F",
            "type=FULL",
            "-F",
            "profile=bench",
            f"{server.url}/upload",
        ],
        check=True,
    )
    return time.perf_counter() - start


def _fill_server(server, workdir: Path, total: int, file_size: int) -> None:
    """Documents on the server for the scrub to read, uploaded through its API."""
    count = max(1, total // file_size)
    path = workdir / "document.bin"
    for n in range(count):
        with open(path, "wb") as out:
            out.write(os.urandom(64) + bytes(file_size - 64))
        subprocess.run(
            [
                "curl",
                "-sS",
                "-f",
                "-o",
                "/dev/null",
                "-H",
                f"Authorization: Bearer {server.token}",
                "-F",
                f"file=@{path};filename=doc-{n}.bin",
                "-F",
                "type=invoice",
                f"{server.url}/api/v1/documents",
            ],
            check=True,
        )


def upload_beside_scrub(args) -> bool:
    from syncapp.config import SPEC

    default_rate = SPEC["scrub"]["max_rate"][1]
    # the scrub must outlast the upload: twice what the default rate reads in an idle upload's
    # time at 100 MiB/s, at least 4 files
    scrub_set = max(4 * args.file_size, 2 * default_rate * max(1, args.upload_size // (100 * MiB)))
    with tempfile.TemporaryDirectory(prefix="bench-scrub-up-") as tmp:
        workdir = Path(tmp)
        server = start_syncapp(workdir / "server")
        try:
            _fill_server(server, workdir, scrub_set, args.file_size)
            archive = workdir / "archive.tar.gz"
            _archive(archive, args.upload_size)
            size = archive.stat().st_size
            idle, busy, scrub_cpu = [], [], []
            worker = psutil.Process(server.process.proc.pid)  # the gunicorn master
            for n in range(args.repeat):
                idle.append(_upload(server, archive, f"full_idle_{n}.tar.gz"))
                scrub = subprocess.Popen(
                    [str(BIN / "flask"), "--app", "app", "scrub", "run"],
                    cwd=REPO,
                    env={**os.environ, **server.env},
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                time.sleep(1.0)  # the scrub has its app built and is reading (not a test)
                busy.append(_upload(server, archive, f"full_busy_{n}.tar.gz"))
                scrub_process = psutil.Process(scrub.pid)
                times = scrub_process.cpu_times()
                scrub_cpu.append(times.user + times.system)
                finished_early = scrub.poll() is not None
                scrub.terminate()
                scrub.wait()
                if finished_early:
                    print("  note: the scrub ended before the upload did; raise --size")
            server_cpu = sum(worker.cpu_times()[:2]) + sum(
                sum(c.cpu_times()[:2]) for c in worker.children(recursive=True)
            )
        finally:
            server.stop()
    best_idle, best_busy = min(idle), min(busy)
    ratio = best_idle / best_busy  # throughput busy / throughput idle
    print(
        f"(2) upload of {size / MiB:.0f} MiB, scrub.max_rate {default_rate / MiB:.0f} MiB/s "
        f"(the default), best of {args.repeat}:"
    )
    print(
        f"  idle     {best_idle:7.3f} s  {size / best_idle / MiB:8.1f} MiB/s   ({fmt_times(idle)})"
    )
    print(
        f"  scrubbing {best_busy:6.3f} s  {size / best_busy / MiB:8.1f} MiB/s   ({fmt_times(busy)})"
    )
    print(
        f"  CPU: the scrub process {max(scrub_cpu):.2f} s at most per round; the server "
        f"{server_cpu:.2f} s over every upload"
    )
    print(
        f"  throughput while scrubbing / idle: {ratio:.2f} (target >= {TARGET_UPLOAD}): "
        f"{verdict(ratio >= TARGET_UPLOAD)}"
    )
    return ratio >= TARGET_UPLOAD


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=parse_size, default=parse_size("2GiB"))
    parser.add_argument("--file-size", type=parse_size, default=parse_size("64MiB"))
    parser.add_argument("--upload-size", type=parse_size, default=parse_size("512MiB"))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-upload", action="store_true")
    args = parser.parse_args()
    print(f"CPU: {os.cpu_count()} cores; load average {os.getloadavg()[0]:.2f}")
    met = throughput(args)
    if not args.skip_upload:
        met = upload_beside_scrub(args) and met
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
