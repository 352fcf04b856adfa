"""/list and /verify benchmark for seed 003: syncapp's index against re-hashing every archive.

    .venv/bin/python bench/backup_list.py [--count 10000] [--total 10GB] [--repeat 3]

The original server re-hashed every archive with MD5 on every /list (and /verify). syncapp
answers both from its database index, built here by `flask backups reindex` from the sidecars.
Three stores are made directly on disk (sparse archives + sidecars, no uploads), in turn in the
store of one syncapp under gunicorn (deploy/gunicorn.conf.py):
- main:    --count archives, --total bytes in all (default 10,000 archives, 10 GB);
- smaller: the same count, files 10 x smaller (shows /list does not grow with bytes);
- fewer:   a tenth of the archives, the main size each (shows /list grows with the count).
For each store, GET /list and POST /verify (the client sends all its archives, name, size and
MD5) are timed, with the CPU time the server's worker spent per request, and so is the naive
approach implemented below over the same files: walk the store, MD5 every archive (1 MiB
reads), build the same listing, compare for /verify. Reading a sparse file costs no disk time,
so the naive side is timed at its fastest (a cached store).
The sidecars say "verified", as a server's say once the gzip check has read them: the fake
archives are zeros, which the first /verify would otherwise check, find corrupt and rewrite.
Targets (issue 23): /list and /verify each <= 50 ms for 10,000 archives and >= 300 x faster than
re-hashing; /list time follows the count. Each time is the best of --repeat runs (2 shared
cores: noise only ever adds time); the CPU time is their mean.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))

import psutil
from backup_common import (
    GB,
    MiB,
    best_of,
    disk_free,
    fmt_times,
    gunicorn_worker,
    start_syncapp,
    verdict,
)

from syncapp.config import parse_size
from tests.live import LiveServer

TARGET_SPEEDUP = 300.0
TARGET_SECONDS = 0.050  # for --count 10000
KINDS = ("FULL", "INC", "DIFF")
PROFILES = 10


@dataclass(frozen=True)
class Store:
    label: str
    count: int
    size: int  # bytes per archive

    @property
    def total(self) -> int:
        return self.count * self.size


# -- building a store on disk ----------------------------------------------------------------


def zero_digests(size: int) -> tuple[str, str]:
    """MD5 and SHA-256 of `size` zero bytes: what a sparse archive of that size contains."""
    md5, sha = hashlib.md5(), hashlib.sha256()
    block = bytes(MiB)
    for start in range(0, size, MiB):
        piece = memoryview(block)[: min(MiB, size - start)]
        md5.update(piece)
        sha.update(piece)
    return md5.hexdigest(), sha.hexdigest()


def archive_kind(number: int) -> str:
    # Per profile: a FULL, then INCs, with a DIFF now and then, like a weekly/daily schedule.
    step = number // PROFILES
    return "FULL" if step % 10 == 0 else "DIFF" if step % 10 == 5 else "INC"


def build_store(root: Path, store: Store) -> dict[str, list[dict]]:
    """Sparse archives and their sidecars; returns the client-side listing /verify is sent."""
    shutil.rmtree(root, ignore_errors=True)
    md5, sha256 = zero_digests(store.size)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    last_full: dict[str, str] = {}
    local: dict[str, list[dict]] = {kind: [] for kind in KINDS}
    for number in range(store.count):
        kind, profile = archive_kind(number), f"host{number % PROFILES}"
        name = f"{profile}-{number:06d}.tar.gz"
        folder = root / kind
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / name, "wb") as archive:
            archive.truncate(store.size)
        if kind == "FULL":
            last_full[profile] = name
        sidecar = {
            "name": name, "type": kind, "profile": profile, "size": store.size,
            "md5": md5, "sha256": sha256,
            "uploaded_at": (start + timedelta(minutes=number)).isoformat().replace("+00:00", "Z"),
            "uploader": "bench@example.com",
            "base_archive": None if kind == "FULL" else last_full[profile],
            "integrity": "verified",
        }  # fmt: skip
        (folder / f"{name}.meta.json").write_text(json.dumps(sidecar, indent=2))
        local[kind].append({"name": name, "size": store.size, "md5": md5})
    return local


# -- the naive approach: re-hash every archive -------------------------------------------------


def md5_of(path: Path) -> str:
    md5 = hashlib.md5()
    buffer = memoryview(bytearray(MiB))
    with open(path, "rb", buffering=0) as source:
        while count := source.readinto(buffer):
            md5.update(buffer[:count])
        # Keep the machine's page cache from filling with gigabytes of zeros.
        os.posix_fadvise(source.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)
    return md5.hexdigest()


def naive_list(root: Path) -> dict[str, list[dict]]:
    """The original /list: every archive's name, size, time and a freshly computed MD5."""
    listing: dict[str, list[dict]] = {}
    for kind in KINDS:
        items = []
        for path in sorted((root / kind).glob("*.tar.gz")):
            stat = path.stat()
            modified = datetime.fromtimestamp(stat.st_mtime, UTC).isoformat()
            items.append(
                {"name": path.name, "size": stat.st_size, "md5": md5_of(path), "modified": modified}
            )
        listing[kind] = items
    return listing


def naive_verify(root: Path, local: dict[str, list[dict]]) -> list[str]:
    """The original /verify: re-hash the store, then compare with the client's archives."""
    remote = {
        (kind, item["name"]): item for kind, items in naive_list(root).items() for item in items
    }
    issues = []
    for kind, items in local.items():
        for item in items:
            stored = remote.get((kind, item["name"]))
            if stored is None or (stored["size"], stored["md5"]) != (item["size"], item["md5"]):
                issues.append(f"{kind}/{item['name']}")
    return issues


def expect_synchronized(issues: list[str]) -> None:
    if issues:
        raise RuntimeError(f"the naive verify found differences in a matching store: {issues[:3]}")


# -- syncapp -------------------------------------------------------------------------------------


@dataclass
class Figures:
    store: Store
    reindex: float
    api_list: list[float]
    api_verify: list[float]
    cpu_list: float  # the server's CPU seconds per request
    cpu_verify: float
    naive_list: list[float]
    naive_verify: list[float]


def check_list(server: LiveServer, session: requests.Session, count: int) -> None:
    body = session.get(f"{server.url}/list", timeout=600).json()
    if body.get("total_count") != count:
        raise RuntimeError(f"/list counted {body.get('total_count')} archives, expected {count}")


def check_verify(server: LiveServer, session: requests.Session, local: dict) -> None:
    body = session.post(f"{server.url}/verify", json={"local_backups": local}, timeout=600).json()
    if body.get("sync_status") != "SYNCHRONIZED":
        raise RuntimeError(f"/verify says {body.get('sync_status')}: {body.get('issues', [])[:3]}")


def measure_store(server: LiveServer, store: Store, repeat: int) -> Figures:
    root = Path(server.env["SYNCAPP_BACKUPS_ROOT"])
    print(f"{store.label}: building {store.count} archives of {store.size:,} bytes", flush=True)
    local = build_store(root, store)
    started = time.perf_counter()
    print("  " + server.flask("backups", "reindex").strip(), flush=True)
    reindex = time.perf_counter() - started
    session = requests.Session()
    session.headers.update(server.headers)
    check_list(server, session, store.count)
    check_verify(server, session, local)
    worker = psutil.Process(gunicorn_worker(server.process.proc.pid))
    api_list, cpu_list = best_of_with_cpu(
        worker, repeat, lambda: session.get(f"{server.url}/list", timeout=600)
    )
    verify_body = {"local_backups": local}
    api_verify, cpu_verify = best_of_with_cpu(
        worker, repeat, lambda: session.post(f"{server.url}/verify", json=verify_body, timeout=600)
    )
    print(f"  /list {min(api_list):.3f} s ({cpu_list * 1000:.0f} CPU-ms), /verify "
          f"{min(api_verify):.3f} s ({cpu_verify * 1000:.0f} CPU-ms); re-hashing ...",
          flush=True)  # fmt: skip
    _, naive_lists = best_of(repeat, lambda: naive_list(root))
    _, naive_verifies = best_of(repeat, lambda: expect_synchronized(naive_verify(root, local)))
    shutil.rmtree(root, ignore_errors=True)
    return Figures(
        store, reindex, api_list, api_verify, cpu_list, cpu_verify, naive_lists, naive_verifies
    )


def best_of_with_cpu(worker: psutil.Process, repeat: int, action) -> tuple[list[float], float]:
    """The times of `repeat` runs, and the worker's mean CPU seconds (user + system) per run."""
    before = worker.cpu_times()
    _, times = best_of(repeat, action)
    after = worker.cpu_times()
    cpu = (after.user - before.user) + (after.system - before.system)
    return times, cpu / repeat


# -- report --------------------------------------------------------------------------------------


def report(results: list[Figures], repeat: int) -> None:
    print(f"\nbest of {repeat} runs, {date.today()}, {os.cpu_count()} cores; times in seconds")
    print(f"{'store':8} {'archives':>8} {'GB':>6} {'reindex':>8} {'/list':>7} {'naive':>8} "
          f"{'ratio':>7} {'/verify':>8} {'naive':>8} {'ratio':>7}")  # fmt: skip
    for f in results:
        list_ratio = min(f.naive_list) / min(f.api_list)
        verify_ratio = min(f.naive_verify) / min(f.api_verify)
        print(
            f"{f.store.label:8} {f.store.count:8,} {f.store.total / GB:6.1f} {f.reindex:8.2f} "
            f"{min(f.api_list):7.3f} {min(f.naive_list):8.2f} {list_ratio:6.0f}x "
            f"{min(f.api_verify):8.3f} {min(f.naive_verify):8.2f} {verify_ratio:6.0f}x"
        )
    for f in results:
        print(f"  {f.store.label}: /list runs {fmt_times(f.api_list)} "
              f"({f.cpu_list * 1000:.1f} CPU-ms each); /verify runs {fmt_times(f.api_verify)} "
              f"({f.cpu_verify * 1000:.1f} CPU-ms each); naive list runs "
              f"{fmt_times(f.naive_list)}")  # fmt: skip
    main, smaller, fewer = results
    target_line("/list", main.api_list, min(main.naive_list) / min(main.api_list))
    target_line("/verify", main.api_verify, min(main.naive_verify) / min(main.api_verify))
    growth_line("same count, 10x the bytes", main, smaller)
    growth_line("10x the count, same size", main, fewer)


def target_line(what: str, times: list[float], speedup: float) -> None:
    ok = speedup >= TARGET_SPEEDUP and min(times) <= TARGET_SECONDS
    print(f"{what}: {min(times) * 1000:.0f} ms (target <= {TARGET_SECONDS * 1000:.0f} ms), "
          f"{speedup:.0f}x re-hashing (target >= {TARGET_SPEEDUP:.0f}x): "
          f"{verdict(ok)}")  # fmt: skip


def growth_line(what: str, big: Figures, small: Figures) -> None:
    api = min(big.api_list) / min(small.api_list)
    naive = min(big.naive_list) / min(small.naive_list)
    print(f"/list time {big.store.label} / {small.store.label} ({what}): {api:.2f} "
          f"(re-hashing: {naive:.2f})")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=10_000, help="archives in the main store")
    parser.add_argument("--total", default="10GB", help="bytes in the main store (sparse)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each; the best is kept")
    args = parser.parse_args()
    size = parse_size(args.total) // args.count
    stores = [
        Store("main", args.count, size),
        Store("smaller", args.count, size // 10),
        Store("fewer", args.count // 10, size),
    ]
    base = Path(tempfile.mkdtemp(prefix="bench-list-", dir="/tmp"))
    print(f"work folder {base} ({disk_free(base) / GB:.0f} GB free; the archives are sparse)")
    started = time.monotonic()
    server = None
    try:
        # No background scrub: it would read the zero-filled archives, record them corrupt, and
        # the next store's archives of the same names would inherit those findings.
        config = base / "config.yaml"
        config.write_text("scrub:\n  tick: null\n")
        server = start_syncapp(base / "syncapp", SYNCAPP_CONFIG=str(config))
        results = [measure_store(server, store, args.repeat) for store in stores]
        report(results, args.repeat)
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(base, ignore_errors=True)
    print(f"(took {time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    main()
