"""restic benchmark: `restic backup` and `restic restore` of one data set to syncapp, to
`rclone serve restic` and to a local-folder repository, in the same run.

    .venv/bin/python bench/restic.py [--size 1GiB] [--small-count 10000] [--big-count 3]
                                     [--repeat 1] [--targets syncapp,rclone,local] [--workdir DIR]

The data set: --small-count small files (1-32 KiB, in 100 folders) and --big-count big files
sharing the rest of --size, of random bytes (restic compresses nothing of them). Each target gets
a fresh repository per round: `restic init`, `restic backup` (timed), `restic restore latest`
(timed, into an empty folder, then compared file by file with the data set's sizes and a
digest of each big file). Both servers store on the same disk as the local repository:
- syncapp under gunicorn (deploy/gunicorn.conf.py, as scripts/serve runs it), its restic store
  in the work folder, the URL form with the admin's token;
- `rclone serve restic` (Debian's rclone) over a local folder;
- a local-folder repository: no server, no HTTP: the limit.
Printed: wall seconds, the restic client's CPU seconds and the server's (user + system), and
syncapp / rclone and syncapp / local. Targets (issue 21): syncapp <= 1.0 x rclone serve restic
for backup and restore, <= 1.3 x the local repository. Each figure is the best of --repeat rounds.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))

from backup_common import MiB, gunicorn_worker, start_syncapp

from syncapp.config import parse_size
from tests.peers.process import ServerProcess, free_port, port_open

PASSWORD = "bench-repository-password"
TARGET_RCLONE, TARGET_LOCAL = 1.0, 1.3


@dataclass
class Figures:
    backup_s: float
    restore_s: float
    backup_cpu: float  # client + server CPU seconds
    restore_cpu: float
    server_cpu: float  # of which the server's, both phases


def make_data(root: Path, size: int, small_count: int, big_count: int) -> dict[str, int]:
    """The data set; the expected size of every file (relative path -> bytes)."""
    rng = random.Random(21)
    sizes: dict[str, int] = {}
    small_total = 0
    for i in range(small_count):
        rel = f"small/d{i % 100:02d}/f{i:05d}.bin"
        length = rng.randint(1024, 32 * 1024)
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(rng.randbytes(length))
        sizes[rel] = length
        small_total += length
    each = max((size - small_total) // max(big_count, 1), 0)
    for i in range(big_count):
        rel = f"big/big{i}.bin"
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as handle:
            left = each
            while left:
                chunk = os.urandom(min(8 * MiB, left))
                handle.write(chunk)
                left -= len(chunk)
        sizes[rel] = each
    return sizes


def digest(path: Path) -> str:
    sha = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(8 * MiB), b""):
            sha.update(chunk)
    return sha.hexdigest()


def check_restore(data: Path, restored: Path, sizes: dict[str, int]) -> None:
    # restic restores the absolute path below --target
    base = restored / data.relative_to("/")
    for rel, size in sizes.items():
        got = base / rel
        if got.stat().st_size != size:
            raise RuntimeError(f"restored {rel}: {got.stat().st_size} bytes, want {size}")
        if rel.startswith("big/") and digest(got) != digest(data / rel):
            raise RuntimeError(f"restored {rel} differs")


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def process_cpu(pid: int | None) -> float:
    if pid is None:
        return 0.0
    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


def restic(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        ["restic", *args], env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True
    )
    if result.returncode != 0:
        raise RuntimeError(f"restic {' '.join(args)}: {result.stderr}")
    return result.stdout


def round_trip(
    repository: str, server_pid: int | None, data: Path, sizes: dict[str, int], work: Path
) -> Figures:
    cache = work / "cache"
    shutil.rmtree(cache, ignore_errors=True)
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(work),
        "RESTIC_PASSWORD": PASSWORD,
        "RESTIC_CACHE_DIR": str(cache),
        "RESTIC_REPOSITORY": repository,
    }
    restic(env, "init")
    subprocess.run(["sync"], check=True)
    cpu0, server0, start = children_cpu(), process_cpu(server_pid), time.perf_counter()
    restic(env, "backup", "--quiet", str(data))
    backup_s = time.perf_counter() - start
    cpu1, server1 = children_cpu(), process_cpu(server_pid)
    restored = work / "restored"
    shutil.rmtree(restored, ignore_errors=True)
    subprocess.run(["sync"], check=True)
    start = time.perf_counter()
    restic(env, "restore", "latest", "--target", str(restored))
    restore_s = time.perf_counter() - start
    cpu2, server2 = children_cpu(), process_cpu(server_pid)
    check_restore(data, restored, sizes)
    shutil.rmtree(restored)
    return Figures(
        backup_s,
        restore_s,
        (cpu1 - cpu0) + (server1 - server0),
        (cpu2 - cpu1) + (server2 - server1),
        (server2 - server0),
    )


def best(figures: list[Figures]) -> Figures:
    return Figures(
        min(f.backup_s for f in figures),
        min(f.restore_s for f in figures),
        min(f.backup_cpu for f in figures),
        min(f.restore_cpu for f in figures),
        min(f.server_cpu for f in figures),
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", default="1GiB")
    parser.add_argument("--small-count", type=int, default=10_000)
    parser.add_argument("--big-count", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--targets", default="syncapp,rclone,local")
    parser.add_argument("--workdir", type=Path)
    args = parser.parse_args()
    if shutil.which("restic") is None or shutil.which("rclone") is None:
        print("restic and rclone are needed: scripts/install_peers installs them")
        return 2
    targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    size = parse_size(args.size)
    root = Path(tempfile.mkdtemp(prefix="bench-restic-", dir=args.workdir))
    servers: list = []
    try:
        data = root / "data"
        sizes = make_data(data, size, args.small_count, args.big_count)
        total = sum(sizes.values())
        version = subprocess.run(["restic", "version"], capture_output=True, text=True).stdout
        print(
            f"data set: {len(sizes)} files, {total / MiB:.1f} MiB; {date.today()}, "
            f"{os.cpu_count()} cores; {version.strip()}"
        )
        results: dict[str, Figures] = {}
        for target in targets:
            rounds = []
            for n in range(args.repeat):
                work = root / f"{target}-{n}"
                work.mkdir()
                if target == "syncapp":
                    if not servers or servers[0][0] != "syncapp":
                        server = start_syncapp(
                            root / "syncapp", SYNCAPP_RESTIC_ROOT=str(root / "syncapp-store")
                        )
                        servers.insert(0, ("syncapp", server))
                    server = servers[0][1]
                    pid = gunicorn_worker(server.process.proc.pid)
                    host = server.url.removeprefix("http://")
                    url = f"rest:http://live%40example.com:{server.token}@{host}/restic/bench{n}/"
                elif target == "rclone":
                    port = free_port()
                    store = root / f"rclone-store-{n}"
                    store.mkdir()
                    process = ServerProcess(
                        "rclone",
                        ["rclone", "serve", "restic", "--addr", f"127.0.0.1:{port}", str(store)],
                        ready=lambda port=port: port_open(port),
                        log_dir=root,
                    ).start()
                    servers.append(("rclone", process))
                    pid = process.proc.pid
                    url = f"rest:http://127.0.0.1:{port}/"
                else:
                    pid, url = None, str(root / f"local-repo-{n}")
                rounds.append(round_trip(url, pid, data, sizes, work))
                if target == "rclone":
                    servers.pop()[1].stop()
            results[target] = best(rounds)
        heads = ("backup s", "restore s", "backup CPU", "restore CPU", "server CPU")
        print(f"\n{'target':8} " + " ".join(f"{h:>11}" for h in heads))
        for target, f in results.items():
            values = (f.backup_s, f.restore_s, f.backup_cpu, f.restore_cpu, f.server_cpu)
            print(f"{target:8} " + " ".join(f"{v:11.2f}" for v in values))
        mine = results.get("syncapp")
        for other, target in (("rclone", TARGET_RCLONE), ("local", TARGET_LOCAL)):
            if mine is None or other not in results:
                continue
            theirs = results[other]
            for phase in ("backup", "restore"):
                ratio = getattr(mine, f"{phase}_s") / getattr(theirs, f"{phase}_s")
                cpu = getattr(mine, f"{phase}_cpu") / max(getattr(theirs, f"{phase}_cpu"), 1e-9)
                verdict = "target met" if ratio <= target else "TARGET MISSED"
                print(
                    f"syncapp / {other:6} {phase:7}: {ratio:5.2f} x time (target <= {target}), "
                    f"{cpu:5.2f} x CPU  {verdict}"
                )
        return 0
    finally:
        for _, server in reversed(servers):
            server.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
