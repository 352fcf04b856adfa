"""Sync engine benchmark: a syncapp sync job against `rsync -a` and `rclone copy`, local to local.

    .venv/bin/python bench/sync_engine.py [--small 10000] [--big 100] [--big-size 10MiB]
                                          [--workers N] [--repeat 1] [--cache cold|warm]
                                          [--verify all|sample] [--workdir DIR] [--keep]
                                          [--profile FILE]

One run: a source folder of --small files (1-64 KiB, random bytes, in 100 folders) and --big
files of --big-size (deterministic: --seed) is copied into a fresh, empty folder by each tool,
then each tool runs again on its own copy with nothing changed. syncapp: a sync job created with
`create_job` in an app of its own (SQLite in the work folder; --workers, by default the config's
`sync.default_workers`) and run with `run_now`, timed around `run_now` only; rsync:
`rsync -a src/ dst/`; rclone: `rclone copy src dst`, its defaults.
Targets (issue 23): syncapp's time <= 1.5 x rclone's for the first copy, <= 1.0 x rclone's time
+ the sync after it, CPU seconds <= rclone's; <= 1.0 x rclone's time for the no-change re-run.

Before every timed phase the page cache is written back and dropped (`--cache cold`; needs root,
else the run falls back to warm and says so) or written back and the source read once
(`--cache warm`), so every tool starts in the same cache state. rsync and rclone do not fsync,
syncapp does (temp file, fsync, rename, fsync of the folder): the `then sync` column is the time
of an `os.sync()` right after each tool, what the copy still owed the disk. Every copy is checked
against the source (file list, sizes, mtimes, MD5s) and every re-run must leave every file
untouched (inode and ctime). With --repeat N each figure is the median of N runs.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import hashlib
import io
import json
import os
import pstats
import random
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from syncapp.config import parse_size  # noqa: E402

MiB = 1024 * 1024
MB = 1000**2
FOLDERS = 100
SMALL_MIN, SMALL_MAX = 1024, 64 * 1024
#: issue 23: time against rclone per phase; for the first copy also time + the sync after it,
#: and CPU seconds, each against rclone's
TARGETS = {"first copy": 1.5, "no-change re-run": 1.0}
TARGET_WITH_SYNC = TARGET_CPU = 1.0
PHASES = ("first copy", "no-change re-run")
TOOLS = ("syncapp", "rsync", "rclone")
DROP_CACHES = Path("/proc/sys/vm/drop_caches")
#: the share marker a sync job writes into its destination folder when it is created
SHARE_MARKER = ".syncapp-nas"


# -- source data ------------------------------------------------------------------------------


@dataclass
class Source:
    root: Path
    files: dict[str, tuple[int, str]]  # path relative to root -> (size, MD5)

    @property
    def total_bytes(self) -> int:
        return sum(size for size, _ in self.files.values())


def make_source(root: Path, small: int, big: int, big_size: int, seed: int) -> Source:
    """The source tree, or the one already in `root` if it was made with the same parameters."""
    manifest = root.parent / "source.json"
    params = {"small": small, "big": big, "big_size": big_size, "seed": seed}
    if manifest.exists() and root.is_dir():
        saved = json.loads(manifest.read_text())
        if saved["params"] == params:
            return Source(root, {rel: tuple(v) for rel, v in saved["files"].items()})
    shutil.rmtree(root, ignore_errors=True)
    rng = random.Random(seed)
    files: dict[str, tuple[int, str]] = {}
    plan = [
        (f"d{n % FOLDERS:02d}/f{n:05d}.bin", rng.randint(SMALL_MIN, SMALL_MAX))
        for n in range(small)
    ]
    plan += [(f"big/b{n:03d}.bin", big_size) for n in range(big)]
    for rel, size in plan:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        data = rng.randbytes(size)
        path.write_bytes(data)
        files[rel] = (size, hashlib.md5(data).hexdigest())
    os.sync()
    manifest.write_text(json.dumps({"params": params, "files": files}))
    return Source(root, files)


# -- checks -----------------------------------------------------------------------------------


def walk(root: Path) -> dict[str, os.stat_result]:
    found = {}
    for folder, _, names in os.walk(root):
        for name in names:
            path = os.path.join(folder, name)
            found[os.path.relpath(path, root)] = os.stat(path, follow_symlinks=False)
    return found


def file_md5(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        while chunk := handle.read(MiB):
            digest.update(chunk)
    return digest.hexdigest()


def check_copy(source: Source, dst: Path, every: int) -> str:
    """The copy holds exactly the source's files, sizes and mtimes (to 1 ms), and the same MD5
    for every `every`-th file (1: all). Raises AssertionError, else says what it checked."""
    landed, original = walk(dst), walk(source.root)
    landed.pop(SHARE_MARKER, None)  # written by syncapp when the job is made (storage/mounts.py)
    if set(landed) != set(source.files):
        extra, missing = set(landed) - set(source.files), set(source.files) - set(landed)
        raise AssertionError(
            f"{dst}: {len(missing)} files missing, {len(extra)} extra "
            f"(e.g. {sorted(missing or extra)[:3]})"
        )
    for rel, st in landed.items():
        if st.st_size != source.files[rel][0]:
            raise AssertionError(f"{dst / rel}: {st.st_size} bytes, not {source.files[rel][0]}")
        if abs(st.st_mtime_ns - original[rel].st_mtime_ns) > 1_000_000:
            raise AssertionError(f"{dst / rel}: modification time not kept")
    sample = sorted(source.files)[::every]
    for rel in sample:
        if file_md5(dst / rel) != source.files[rel][1]:
            raise AssertionError(f"{dst / rel}: MD5 differs from the source's")
    return f"{len(landed):,} files, sizes and mtimes equal, MD5 of {len(sample):,} equal"


def snapshot(dst: Path) -> dict[str, tuple[int, int]]:
    return {rel: (st.st_ino, st.st_ctime_ns) for rel, st in walk(dst).items()}


# -- cache state ------------------------------------------------------------------------------


class Cache:
    """Puts the machine in the same page-cache state before every timed phase."""

    def __init__(self, mode: str, source: Path) -> None:
        self.mode, self.source = mode, source
        self.note = ""
        if mode == "cold":
            try:
                self._drop()
            except OSError as exc:
                self.mode = "warm"
                self.note = f"cannot drop the page cache ({exc.strerror}): warm instead"

    @staticmethod
    def _drop() -> None:
        DROP_CACHES.write_text("3\n")

    def describe(self) -> str:
        if self.mode == "cold":
            return (
                "cold: `sync; echo 3 > /proc/sys/vm/drop_caches` before every timed phase "
                "(source and destination metadata and data read from disk)"
            )
        return (
            f"warm{f' ({self.note})' if self.note else ''}: os.sync(), then every source "
            "file read once, before every timed phase"
        )

    def settle(self) -> None:
        os.sync()
        if self.mode == "cold":
            self._drop()
            return
        for folder, _, names in os.walk(self.source):
            for name in names:
                with open(os.path.join(folder, name), "rb") as handle:
                    while handle.read(4 * MiB):
                        pass


# -- the three tools --------------------------------------------------------------------------


@dataclass
class Timing:
    seconds: float
    cpu: float  # user + system seconds of the copying process (its threads included)
    sync: float  # os.sync() right after: what the copy left unwritten
    note: str = ""


def cpu_seconds(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def timed(action: Callable[[], str], who: int) -> Timing:
    cpu, started = cpu_seconds(who), time.perf_counter()
    note = action()
    seconds, cpu = time.perf_counter() - started, cpu_seconds(who) - cpu
    started = time.perf_counter()
    os.sync()
    return Timing(seconds, cpu, time.perf_counter() - started, note)


class Command:
    """rsync or rclone: one command line, run the same way for both phases."""

    def __init__(self, name: str, argv: Callable[[Path, Path], list[str]]) -> None:
        self.name, self.argv = name, argv
        self.env = {**os.environ, "RCLONE_CONFIG": os.devnull}  # rclone: defaults, no config

    def prepare(self, src: Path, dst: Path) -> None:
        self.src, self.dst = src, dst

    def run(self) -> Timing:
        argv = self.argv(self.src, self.dst)

        def action() -> str:
            done = subprocess.run(argv, env=self.env, capture_output=True, text=True)
            if done.returncode != 0:
                raise RuntimeError(f"{' '.join(argv)} failed: {done.stderr[-2000:]}")
            return ""

        return timed(action, resource.RUSAGE_CHILDREN)

    def close(self) -> None:
        pass


class Syncapp:
    """A syncapp sync job in an app of its own; the same job runs for both phases."""

    name = "syncapp"

    def __init__(self, work: Path, workers: int, profile: ThreadProfiles | None) -> None:
        self.work, self.workers, self.profile = work, workers, profile

    def prepare(self, src: Path, dst: Path) -> None:
        from syncapp import create_app
        from syncapp.auth.accounts import create_user
        from syncapp.extensions import db
        from syncapp.syncs.jobs import create_job

        state = Path(tempfile.mkdtemp(prefix="syncapp-", dir=self.work))
        self.app = create_app(
            {
                "instance_path": str(state / "instance"),
                "database": {"url": f"sqlite:///{state / 'syncapp.db'}"},
                "logging": {"file": str(state / "syncapp.log"), "level": "WARNING"},
                "security": {"secret_key": "bench-secret-key"},
                "backups": {"root": str(state / "remote_backups")},
                "sync": {"allowed_roots": [str(self.work)]},
                "TESTING": True,
            }
        )
        with self.app.app_context():
            db.create_all()
            owner = create_user("bench@example.com", "bench password 123", role="admin")
            values = {
                "name": "bench",
                "source_path": str(src),
                "destination_path": str(dst),
                "workers": self.workers,
            }
            self.job_id = create_job(owner.id, values).id

    def run(self) -> Timing:
        from syncapp.extensions import db
        from syncapp.syncs.runner import run_now

        def action() -> str:
            with self.app.app_context():
                with self.profile or contextlib.nullcontext():
                    run = run_now(self.job_id)
                if run is None or run.status != "completed":
                    ended = f"{run.status}: {run.error}" if run else "unclaimed"
                    raise RuntimeError(f"syncapp's run did not complete ({ended})")
                note = f"{run.files_copied:,} copied, {run.files_skipped:,} skipped"
                db.session.remove()
            return note

        return timed(action, resource.RUSAGE_SELF)

    def close(self) -> None:
        from syncapp.extensions import db

        with self.app.app_context():
            db.engine.dispose()


def make_tools(work: Path, workers: int, profile: ThreadProfiles | None) -> dict[str, object]:
    return {
        "syncapp": Syncapp(work, workers, profile),
        "rsync": Command("rsync", lambda s, d: ["rsync", "-a", f"{s}/", f"{d}/"]),
        "rclone": Command("rclone", lambda s, d: ["rclone", "copy", str(s), str(d)]),
    }


# -- profiling --------------------------------------------------------------------------------


class ThreadProfiles:
    """cProfile in the calling thread and in every thread started while it is active (the job's
    copy workers, HashingReader's MD5 threads): cProfile alone sees only the calling thread."""

    def __init__(self) -> None:
        self.main: list[cProfile.Profile] = []
        self.threads: list[cProfile.Profile] = []
        self.lock = threading.Lock()

    def _in_new_thread(self, *args: object) -> None:
        profile = cProfile.Profile()
        with self.lock:
            self.threads.append(profile)
        profile.enable()  # replaces this hook in the new thread

    def __enter__(self) -> ThreadProfiles:
        profile = cProfile.Profile()
        self.main.append(profile)
        threading.setprofile(self._in_new_thread)
        profile.enable()
        return self

    def __exit__(self, *exc: object) -> None:
        self.main[-1].disable()
        threading.setprofile(None)  # type: ignore[arg-type]

    def report(self, path: Path, top: int = 30) -> str:
        out = io.StringIO()
        for title, profiles, suffix in (
            ("run's own thread", self.main, ".main"),
            ("copy and hashing threads", self.threads, ".threads"),
        ):
            if not profiles:
                continue
            stats = pstats.Stats(*profiles, stream=out)
            stats.dump_stats(f"{path}{suffix}")
            out.write(f"\n== {title}: {len(profiles)} profile(s), {path}{suffix} ==\n")
            stats.sort_stats("cumulative").print_stats(top)
            stats.sort_stats("tottime").print_stats(top)
        return out.getvalue()


# -- a whole run ------------------------------------------------------------------------------


@dataclass
class Results:
    timings: dict[tuple[str, str], list[Timing]] = field(default_factory=dict)

    def add(self, tool: str, phase: str, timing: Timing) -> None:
        self.timings.setdefault((tool, phase), []).append(timing)

    def median(self, tool: str, phase: str, what: str = "seconds") -> float:
        return statistics.median(getattr(t, what) for t in self.timings[(tool, phase)])


def one_run(
    number: int,
    source: Source,
    work: Path,
    tools: dict,
    cache: Cache,
    every: int,
    results: Results,
    log: Callable[[str], None],
    keep: bool,
) -> None:
    order = list(TOOLS[number % len(TOOLS) :] + TOOLS[: number % len(TOOLS)])
    targets = {name: work / f"dst-{name}-{number}" for name in order}
    for name in order:
        shutil.rmtree(targets[name], ignore_errors=True)
        targets[name].mkdir()
        tools[name].prepare(source.root, targets[name])
    try:
        for name in order:
            cache.settle()
            timing = tools[name].run()
            results.add(name, PHASES[0], timing)
            checked = check_copy(source, targets[name], every)
            log(
                f"  run {number + 1} {name:7} first copy {timing.seconds:8.2f} s "
                f"(CPU {timing.cpu:6.2f} s, sync {timing.sync:5.2f} s) {timing.note}; {checked}"
            )
        for name in order:
            before = snapshot(targets[name])
            cache.settle()
            timing = tools[name].run()
            results.add(name, PHASES[1], timing)
            touched = sum(before[rel] != now for rel, now in snapshot(targets[name]).items())
            if touched or set(before) != set(snapshot(targets[name])):
                raise AssertionError(f"{name}'s re-run rewrote {touched} files")
            log(
                f"  run {number + 1} {name:7} re-run     {timing.seconds:8.2f} s "
                f"(CPU {timing.cpu:6.2f} s, sync {timing.sync:5.2f} s) {timing.note}; "
                "no file touched"
            )
    finally:
        for name in order:
            tools[name].close()
            if not keep:
                shutil.rmtree(targets[name], ignore_errors=True)


def table(results: Results, source: Source) -> Iterator[str]:
    count, megabytes = len(source.files), source.total_bytes / MB
    yield "| tool | phase | seconds | files/s | MB/s | CPU s | then sync s |"
    yield "|---|---|---|---|---|---|---|"
    for phase in PHASES:
        for tool in TOOLS:
            seconds = results.median(tool, phase)
            rate = f"{megabytes / seconds:,.0f}" if phase == PHASES[0] else "—"
            yield (
                f"| {tool} | {phase} | {seconds:.2f} | {count / seconds:,.0f} | {rate} "
                f"| {results.median(tool, phase, 'cpu'):.2f} "
                f"| {results.median(tool, phase, 'sync'):.2f} |"
            )


def spread(results: Results) -> Iterator[str]:
    for (tool, phase), timings in results.timings.items():
        seconds = ", ".join(f"{t.seconds:.2f}" for t in timings)
        yield f"{tool:7} {phase:16} [{seconds}] s"


def verdict(ratio: float, target: float) -> str:
    return "met" if ratio <= target else f"MISSED by {ratio / target - 1:.0%}"


def ratios(results: Results) -> Iterator[str]:
    for phase in PHASES:
        ours = results.median("syncapp", phase)
        to_rclone = ours / results.median("rclone", phase)
        to_rsync = ours / results.median("rsync", phase)
        target = TARGETS[phase]
        yield (
            f"{phase}: syncapp/rclone = {to_rclone:.2f} (target <= {target}: "
            f"{verdict(to_rclone, target)}); syncapp/rsync = {to_rsync:.2f}"
        )
    phase = "first copy"

    def with_sync(tool: str) -> float:
        return results.median(tool, phase) + results.median(tool, phase, "sync")

    both = with_sync("syncapp") / with_sync("rclone")
    cpu = results.median("syncapp", phase, "cpu") / results.median("rclone", phase, "cpu")
    yield (
        f"{phase}, time + the sync after it: syncapp/rclone = {both:.2f} "
        f"(target <= {TARGET_WITH_SYNC}: {verdict(both, TARGET_WITH_SYNC)})"
    )
    yield (
        f"{phase}, CPU seconds: syncapp/rclone = {cpu:.2f} "
        f"(target <= {TARGET_CPU}: {verdict(cpu, TARGET_CPU)})"
    )


# -- command line -----------------------------------------------------------------------------


def where(path: Path) -> str:
    """The file system holding `path`, so the output says it is a disk and not tmpfs."""
    best = ("?", "?", "")
    with open("/proc/mounts") as mounts:
        for line in mounts:
            device, point, kind = line.split()[:3]
            if (str(path) + "/").startswith(point.rstrip("/") + "/") and len(point) >= len(best[2]):
                best = (device, kind, point)
    same = os.stat(path).st_dev == os.stat(REPO).st_dev
    return f"{best[1]} on {best[0]}{', the same device as the repo' if same else ''}"


def rclone_defaults() -> str:
    text = subprocess.run(
        ["rclone", "help", "flags"],
        capture_output=True,
        text=True,
        env={**os.environ, "RCLONE_CONFIG": os.devnull},
    ).stdout
    found = re.findall(r"(--transfers|--checkers) .*\(default (\d+)\)", text)
    return ", ".join(f"{flag} {value}" for flag, value in found) or "unknown"


def versions() -> str:
    def first_line(argv: list[str]) -> str:
        return subprocess.run(argv, capture_output=True, text=True).stdout.splitlines()[0]

    return f"{first_line(['rsync', '--version'])}; {first_line(['rclone', 'version'])}"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", type=int, default=10_000, help="files of 1-64 KiB")
    parser.add_argument("--big", type=int, default=100, help="files of --big-size")
    parser.add_argument("--big-size", type=parse_size, default=parse_size("10MiB"))
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="the job's parallel copies (default: the config's sync.default_workers)",
    )
    parser.add_argument("--repeat", type=int, default=1, help="runs; each figure is the median")
    parser.add_argument("--cache", choices=("cold", "warm"), default="cold")
    parser.add_argument(
        "--verify",
        choices=("all", "sample"),
        default="all",
        help="MD5 of every copied file, or of every 50th",
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--workdir",
        type=Path,
        default=None,
        help="a folder on disk (default: a new one in /var/tmp); a source made "
        "there with the same parameters is reused",
    )
    parser.add_argument("--keep", action="store_true", help="keep the copies and the work folder")
    parser.add_argument(
        "--profile",
        type=Path,
        default=None,
        help="cProfile syncapp's runs (all threads) into FILE.main/.threads",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    def log(line: str = "") -> None:
        print(line, flush=True)

    for tool in ("rsync", "rclone"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} not found")
    if args.workers is None:
        from syncapp.config import SPEC

        args.workers = SPEC["sync"]["default_workers"][1]
    one, five, _ = os.getloadavg()
    log(
        f"bench/sync_engine.py  {date.today()}  cores: {os.cpu_count()}  "
        f"load average {one:.1f} (1 min), {five:.1f} (5 min)"
    )
    log(f"{versions()}; rclone defaults: {rclone_defaults()}")
    with contextlib.ExitStack() as stack:
        if args.workdir is None:
            work = Path(tempfile.mkdtemp(prefix="bench-sync-", dir="/var/tmp"))
            if not args.keep:
                stack.callback(shutil.rmtree, work, True)
        else:
            work = args.workdir.absolute()
            work.mkdir(parents=True, exist_ok=True)
        work = work.resolve()
        log(f"data in {work} ({where(work)})")
        started = time.perf_counter()
        source = make_source(work / "src", args.small, args.big, args.big_size, args.seed)
        log(
            f"source: {args.small:,} files of 1-64 KiB in {FOLDERS} folders + {args.big} of "
            f"{args.big_size / MiB:g} MiB = {len(source.files):,} files, "
            f"{source.total_bytes / MB:,.0f} MB (ready in {time.perf_counter() - started:.1f} s)"
        )
        cache = Cache(args.cache, source.root)
        log(f"cache: {cache.describe()}")
        log(f"syncapp: job with {args.workers} workers; rsync -a src/ dst/; rclone copy src dst")
        profile = ThreadProfiles() if args.profile else None
        tools = make_tools(work, args.workers, profile)
        results = Results()
        every = 1 if args.verify == "all" else 50
        for number in range(args.repeat):
            one_run(number, source, work, tools, cache, every, results, log, args.keep)
    log()
    log(
        f"Median of {args.repeat} run(s); MB = 10^6 bytes; files/s counts all "
        f"{len(source.files):,} files (copied or checked); CPU s: the copying process's user + "
        "system seconds; then sync s: os.sync() right after the tool ended."
    )
    log()
    for line in table(results, source):
        log(line)
    log()
    for line in ratios(results):
        log(line)
    if args.repeat > 1:
        log()
        log("All runs:")
        for line in spread(results):
            log("  " + line)
    one, five, _ = os.getloadavg()
    log(f"load average at the end: {one:.1f} (1 min), {five:.1f} (5 min)")
    if profile is not None:
        log(profile.report(args.profile))
    return 0


if __name__ == "__main__":
    sys.exit(main())
