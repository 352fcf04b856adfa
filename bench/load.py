"""Load and soak benchmark (issue 10): one syncapp process, then two behind nginx, under the same
mixed load, on PostgreSQL + Redis + an S3 server.

    .venv/bin/python bench/load.py [--quick] [--rounds 5] [--uploaders 50] [--upload-size 10MiB]
                                   [--pushers 200] [--push-size 1MiB] [--readers 4]
                                   [--s3 seaweedfs|moto] [--setups 1,2]

Each setup gets a fresh PostgreSQL database, a private Redis (Socket.IO message queue) and its
own prefixes on the S3 server; the archive and snapshot stores are stored remotes on S3, created
with `flask remotes create ... --env-prefix` as a deployment would. "1": one gunicorn process
(deploy/gunicorn.conf.py) reached directly; "2": two of them behind nginx rendered from
deploy/nginx.conf (ip_hash), with server.trusted_proxies = 1.

Per round, all at once: --uploaders clients each POST /upload one distinct --upload-size archive
(seed 003's multipart form); --pushers Socket.IO clients, connected like Cordiax (token and device
in the query) for the whole run, each push one distinct --push-size snapshot on /cordiax-sync/
and wait for `sync_ack`; --readers clients GET /list, /stats, /api/v1/status, /api/v1/health and
/api/v1/cordiax/devices. Clients run in helper processes (this file with --role) and connect from
distinct 127.x.y.1 addresses, so that nginx's ip_hash spreads them. Rounds are synchronised, so
the servers' RSS (master + workers, every process) is read between rounds.

Reported per setup: throughput (MB/s of payload, operations/s), p50/p99 latency per kind, errors,
RSS before the load, after each round (read at once, and again once the servers' CPU is idle:
work after the replies, such as an upload's gzip check, is over) and after the clients left,
CPU seconds per process kind during the rounds, and which upstream nginx chose. Afterwards
every stored archive and snapshot is read back from the S3 server itself and its MD5 compared
with what the client sent: nothing may be missing, extra or different. Targets: zero errors,
zero lost/corrupt items, RSS after the last round within 10 % of RSS after the first (warm)
round, both read once the servers idle. The two-process throughput is printed beside the
single process's as a ratio (2 shared cores: no scaling factor is demanded).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

from backup_common import REPO, MiB

from syncapp.config import parse_size

NAMESPACE = "/cordiax-sync/"
READ_PATHS = ("/list", "/stats", "/api/v1/status", "/api/v1/health", "/api/v1/cordiax/devices")
MEMORY_TARGET = 0.10
TIMEOUT = 600

# -- helper processes: the clients ------------------------------------------------------------


def source_ip(group: int, index: int) -> str:
    """A loopback address per client; ip_hash hashes the first three octets, so vary the third."""
    return f"127.{group}.{index % 250 + 1}.1"


def op(kind: str, started: float, ok: bool, size: int = 0, error: str = "") -> dict[str, Any]:
    return {"kind": kind, "s": time.perf_counter() - started, "ok": ok, "bytes": size, "e": error}


class Uploader:
    """One backup script: a session bound to its own source address, one archive per round."""

    def __init__(self, spec: dict, index: int) -> None:
        from tests.peers.nginx import session_from

        self.spec, self.index = spec, index
        self.session = session_from(source_ip(1, index))
        self.session.headers["Authorization"] = f"Bearer {spec['token']}"
        # A new connection per upload, as a backup script's curl makes: a kept-alive one idle
        # between rounds may be closed by gunicorn (keepalive 5 s) just as the next POST goes
        # out, which no client retries (a POST is not idempotent).
        self.session.headers["Connection"] = "close"

    def round(self, number: int) -> tuple[dict, dict | None]:
        size = self.spec["size"]
        # distinct content every time, as a whole gzip stream (level 0: stored, quick to make):
        # the server checks every archive's stream after the reply and flags a cut-off one
        data = gzip.compress(os.urandom(size), compresslevel=0, mtime=0)
        name = f"full_{self.spec['tag']}_{self.index:03d}_r{number:03d}.tar.gz"
        item = {"name": name, "md5": hashlib.md5(data).hexdigest(), "size": len(data)}
        form = {"type": "FULL", "profile": f"load{self.index:03d}"}
        started = time.perf_counter()
        try:
            reply = self.session.post(
                f"{self.spec['url']}/upload",
                files={"file": (name, data, "application/gzip")},
                data=form,
                timeout=TIMEOUT,
            )
        except Exception as exc:
            return op("upload", started, False, error=repr(exc)[:300]), None
        if reply.status_code != 201 or f'"md5":"{item["md5"]}"' not in reply.text.replace(" ", ""):
            failure = f"{reply.status_code} {reply.text[:300]}"
            return op("upload", started, False, error=failure), None
        return op("upload", started, True, len(data)), item


class Pusher:
    """One Cordiax client on a WebSocket from its own source address, connected for the run."""

    def __init__(self, spec: dict, index: int) -> None:
        import queue

        import socketio

        self.spec, self.index = spec, index
        self.device = f"load-{spec['tag']}-{index:03d}"
        self.replies: queue.Queue = queue.Queue()
        parts = urlsplit(spec["url"])
        # The WebSocket's own TCP connection, bound to the client's address (websocket-client
        # takes a connected socket); WebSocket only, so that no polling request goes elsewhere.
        sock = socket.socket()
        sock.bind((source_ip(2, index), 0))
        sock.connect((parts.hostname, parts.port))
        self.sio = socketio.Client(
            reconnection=False, handle_sigint=False, websocket_extra_options={"socket": sock}
        )
        for name in ("sync_request", "sync_ack", "sync_error", "disconnect"):
            self.sio.on(name, self._recorder(name), namespace=NAMESPACE)
        self.sio.connect(
            f"{spec['url']}?token={spec['token']}&device={self.device}",
            namespaces=[NAMESPACE],
            transports=["websocket"],
            wait_timeout=120,
        )
        self.expect("sync_request")

    def _recorder(self, name: str):
        # A lost connection ends the wait for an ack at once (as an error), not after TIMEOUT.
        return lambda data=None, *rest: self.replies.put((name, data))

    def expect(self, name: str) -> Any:
        while True:
            got, data = self.replies.get(timeout=TIMEOUT)
            # The server asks again now and then (cordiax.sync_request_interval, and once more
            # when a new client has not pushed): Cordiax would push; this client pushes per round.
            if got == "sync_request" and name != "sync_request":
                continue
            if got != name:
                raise RuntimeError(f"{got}: {data}")
            return data

    def round(self, number: int) -> tuple[dict, dict | None]:
        from tests.cordiax.payloads import encrypted_database

        # A random seed: every push is new bytes, so deduplication never short-circuits it.
        data = encrypted_database(self.spec["size"], seed=int.from_bytes(os.urandom(8)))
        item = {"device": self.device, "md5": hashlib.md5(data).hexdigest()}
        sha256 = hashlib.sha256(data).hexdigest()
        payload = {"data": data.hex()}
        started = time.perf_counter()
        try:
            ack, busy = self.push(payload)
        except Exception as exc:
            # No ack: the server may or may not hold it (a real client pushes again); it must
            # not be stored wrong, and a stored copy is not "unexpected".
            failed = op("push", started, False, error=repr(exc)[:300])
            return failed, {**item, "acked": False}
        if ack.get("sha256") != sha256 or not ack.get("created"):
            return op("push", started, False, error=f"ack {ack}"[:300]), None
        return {**op("push", started, True, len(data)), "busy": busy}, item

    def push(self, payload: dict) -> tuple[dict, int]:
        """Pushes until acknowledged, as Cordiax would: a push refused as `busy` (the server
        cannot take it now) goes again when the server next asks (`sync_request`). The ack
        and how many refusals came before it."""
        busy, refused, asked = 0, False, True
        while True:
            if asked:
                self.sio.emit("sync_data", payload, namespace=NAMESPACE)
                asked = refused = False
            got, data = self.replies.get(timeout=TIMEOUT)
            if got == "sync_ack":
                return data, busy
            if got == "sync_error" and isinstance(data, dict) and data.get("error") == "busy":
                busy, refused = busy + 1, True
                continue
            if got == "sync_request":
                # Only a push refused and not yet sent again goes again: a second copy in
                # flight would be acknowledged after this round's ack, and taken for the next.
                # (Other requests are the periodic ones: this client pushes once per round.)
                asked = refused
                continue
            raise RuntimeError(f"{got}: {data}")

    def close(self) -> None:
        self.sio.disconnect()


class Reader:
    """A dashboard or monitoring client: each read path once per pass."""

    def __init__(self, spec: dict, index: int) -> None:
        from tests.peers.nginx import session_from

        self.spec = spec
        self.session = session_from(source_ip(3, index))
        self.session.headers["Authorization"] = f"Bearer {spec['token']}"
        self.session.headers["Connection"] = "close"  # idle between rounds: see Uploader

    def round(self, number: int) -> list[dict]:
        ops = []
        for _ in range(self.spec["passes"]):
            for path in READ_PATHS:
                started = time.perf_counter()
                try:
                    reply = self.session.get(f"{self.spec['url']}{path}", timeout=TIMEOUT)
                    ok = reply.status_code == 200
                    ops.append(
                        op("read", started, ok, error="" if ok else f"{path} {reply.status_code}")
                    )
                except Exception as exc:
                    ops.append(op("read", started, False, error=f"{path} {exc!r}"[:300]))
        return ops


ROLES = {"upload": Uploader, "push": Pusher, "read": Reader}


def helper(role: str, spec: dict) -> int:
    """Child process: make the clients, then one round per `round N` line on stdin, each
    answered with a JSON line of operations and stored items; `stop` closes them."""
    cls = ROLES[role]
    with ThreadPoolExecutor(len(spec["indexes"])) as pool:
        clients = list(pool.map(lambda i: cls(spec, i), spec["indexes"]))
        print("ready", flush=True)
        for line in sys.stdin:
            if line.strip() == "stop":
                break
            number = int(line.split()[1])
            results = list(pool.map(lambda c, n=number: c.round(n), clients))
            ops, items = [], []
            for result in results:
                if isinstance(result, list):
                    ops += result
                else:
                    ops.append(result[0])
                    if result[1] is not None:
                        items.append(result[1])
            print(json.dumps({"ops": ops, "items": items}), flush=True)
        for client in clients:
            if hasattr(client, "close"):
                client.close()
    return 0


class Helper:
    def __init__(self, role: str, spec: dict) -> None:
        # The spec (it holds the token) goes through the environment, not `ps`.
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--role", role],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=REPO,
            env={**os.environ, "LOAD_SPEC": json.dumps(spec)},
        )
        line = self.process.stdout.readline()
        if line.strip() != "ready":
            raise RuntimeError(f"a {role} helper failed to start (exit {self.process.wait(60)})")

    def send(self, line: str) -> None:
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def result(self) -> dict:
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"a helper died (exit {self.process.wait(60)})")
        return json.loads(line)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.send("stop")
            self.process.wait(120)


def split(count: int, parts: int) -> list[list[int]]:
    return [list(range(count))[i::parts] for i in range(parts) if i < count]


# -- the servers --------------------------------------------------------------------------------


class Stack:
    """What both setups share: the S3 server and a private Redis; a database per setup."""

    def __init__(self, base: Path, s3: str) -> None:
        from tests.peers.databases import POSTGRES_ADMIN_URL
        from tests.peers.process import ServerProcess, free_port, port_open

        self.base = base
        self.admin_url = POSTGRES_ADMIN_URL
        if s3 == "seaweedfs":
            from transfer import start_seaweedfs

            (base / "s3").mkdir()
            self.s3 = start_seaweedfs(base / "s3")
        else:
            from tests.peers.s3 import start_moto

            self.s3 = start_moto(base)
        self.s3_kind = s3
        port = free_port()
        argv = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no"]  # fmt: skip
        self.redis = ServerProcess("redis", argv, ready=lambda: port_open(port), log_dir=base)
        self.redis.start()
        self.redis_url = f"redis://127.0.0.1:{port}/0"

    def new_database(self) -> str:
        import psycopg

        name = f"syncapp_load_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"{self.admin_url.rsplit('/', 1)[0]}/{name}"

    def drop_database(self, url: str) -> None:
        import psycopg

        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')

    def stop(self) -> None:
        self.redis.stop()
        self.s3.process.stop()


@dataclass
class Setup:
    name: str
    servers: list
    url: str
    token: str
    database: str
    prefixes: dict[str, str]
    nginx: Any = None

    def processes(self) -> list:
        """Every gunicorn process (masters and workers): the RSS and CPU that count."""
        import psutil

        found = []
        for server in self.servers:
            master = psutil.Process(server.process.proc.pid)
            found += [master, *master.children(recursive=True)]
        return found

    def rss(self) -> int:
        return sum(p.memory_info().rss for p in self.processes())

    def stop(self) -> None:
        if self.nginx is not None:
            self.nginx.stop()
        for server in self.servers:
            server.stop()


def start_setup(name: str, count: int, stack: Stack, base: Path) -> Setup:
    """`count` syncapp processes on one new database, stores on S3; nginx in front of two."""
    database = stack.new_database()
    tag = f"{name}-{uuid.uuid4().hex[:6]}"
    prefixes = {"archives": f"{tag}/archives", "snapshots": f"{tag}/snapshots"}
    s3 = stack.s3.settings
    env = {
        "DATABASE_URL": database,
        "SOCKETIO_MESSAGE_QUEUE": stack.redis_url,
        "SYNCAPP_BACKUPS_REMOTE": "load-archives",
        "SYNCAPP_CORDIAX_REMOTE": "load-snapshots",
        "SYNCAPP_CORDIAX_KEEP_LAST": "100000",  # every pushed version must still be there
        "SYNCAPP_SERVER_THREADS": "512",
        "SYNCAPP_SERVER_TRUSTED_PROXIES": "1" if count > 1 else "0",
        # The S3 settings as a deployment's environment carries them (read by --env-prefix).
        "LOADS3_BUCKET": s3["bucket"],
        "LOADS3_ENDPOINT_URL": s3["endpoint_url"],
        "LOADS3_REGION": s3["region"],
        "LOADS3_ACCESS_KEY_ID": s3["access_key_id"],
        "LOADS3_SECRET_ACCESS_KEY": s3["secret_access_key"],
    }
    from tests.live import LiveServer

    first = LiveServer(base / f"{name}-a", threads=512, env=env)
    first.workdir.mkdir(parents=True)
    first.prepare()  # migrations, an admin and its token, in the shared database
    for remote, prefix in (("load-archives", "archives"), ("load-snapshots", "snapshots")):
        first.flask("remotes", "create", remote, "--kind", "s3", "--env-prefix", "LOADS3_",
                    "--set", f"prefix={prefixes[prefix]}")  # fmt: skip
    servers = [first.start()]
    for letter in "bcdefgh"[: count - 1]:
        other = LiveServer(base / f"{name}-{letter}", threads=512, env=env)
        other.workdir.mkdir(parents=True)
        other.token = first.token
        servers.append(other.start())
    setup = Setup(name, servers, first.url, first.token, database, prefixes)
    if count > 1:
        from tests.peers.nginx import start_nginx

        upstreams = [urlsplit(s.url).netloc for s in servers]
        setup.nginx = start_nginx(upstreams, base / f"{name}-nginx")
        setup.url = setup.nginx.url
    return setup


# -- running ----------------------------------------------------------------------------------


@dataclass
class Result:
    name: str
    ops: list[dict] = field(default_factory=list)
    items: list[dict] = field(default_factory=list)
    walls: list[float] = field(default_factory=list)
    rss: dict[str, int] = field(default_factory=dict)
    settled: dict[str, int] = field(default_factory=dict)  # per round, once the servers idle
    cpu: dict[str, float] = field(default_factory=dict)
    upstreams: dict[str, int] = field(default_factory=dict)
    lost: list[str] = field(default_factory=list)
    verified: int = 0

    # Throughput and latency leave out round 1, which pays for warming up (imports, first
    # connections to the database and S3, allocator growth); errors and checks count every round.
    def measured(self) -> list[dict]:
        return [o for o in self.ops if o["round"] > 0]

    def of(self, kind: str) -> list[dict]:
        return [o for o in self.measured() if o["kind"] == kind]

    def latencies(self, kind: str) -> list[float]:
        return [o["s"] for o in self.of(kind) if o["ok"]]

    @property
    def seconds(self) -> float:
        return sum(self.walls[1:])

    @property
    def payload(self) -> int:
        return sum(o["bytes"] for o in self.measured() if o["ok"])

    @property
    def errors(self) -> list[dict]:
        return [o for o in self.ops if not o["ok"]]


def cpu_seconds(processes) -> float:
    total = 0.0
    for process in processes:
        try:
            times = process.cpu_times()
            total += times.user + times.system
        except Exception:
            pass
    return total


def settle(processes, limit: float = 30.0) -> float:
    """Waits until `processes` use under 5 % of a core over a second (at most `limit` s); the
    seconds it took. The CPU reading itself is the measurement (this is not a test)."""
    started = time.perf_counter()
    before = cpu_seconds(processes)
    while time.perf_counter() - started < limit:
        time.sleep(1.0)
        now = cpu_seconds(processes)
        if now - before < 0.05:
            break
        before = now
    return time.perf_counter() - started


class CpuMeter:
    """CPU seconds per group of processes over the measured rounds."""

    def __init__(self, groups: dict[str, list]) -> None:
        self.groups = groups
        self.start = {name: cpu_seconds(ps) for name, ps in groups.items()}

    def spent(self) -> dict[str, float]:
        return {name: cpu_seconds(ps) - self.start[name] for name, ps in self.groups.items()}


def run_setup(setup: Setup, stack: Stack, args, log) -> Result:
    import psutil

    result = Result(setup.name)
    result.rss["cold"] = setup.rss()
    common = {"url": setup.url, "token": setup.token, "tag": setup.name}
    helpers: list[Helper] = []
    try:
        for indexes in split(args.uploaders, args.upload_procs):
            helpers.append(
                Helper("upload", {**common, "size": args.upload_size, "indexes": indexes})
            )
        for indexes in split(args.pushers, args.push_procs):
            helpers.append(Helper("push", {**common, "size": args.push_size, "indexes": indexes}))
        if args.readers:
            spec = {**common, "passes": args.read_passes, "indexes": list(range(args.readers))}
            helpers.append(Helper("read", spec))
        result.rss["connected"] = setup.rss()
        connected = result.rss["connected"] / MiB
        log(f"  {args.pushers} Socket.IO clients connected; RSS {connected:.0f} MiB")
        groups = {
            "syncapp": setup.processes(),
            "load generator": [psutil.Process(h.process.pid) for h in helpers],
            "S3 server": [psutil.Process(stack.s3.process.proc.pid)],
            "redis": [psutil.Process(stack.redis.proc.pid)],
        }
        if setup.nginx is not None:
            nginx = psutil.Process(setup.nginx.process.proc.pid)
            groups["nginx"] = [nginx, *nginx.children()]
        meter = CpuMeter(groups)
        for number in range(args.rounds):
            started = time.perf_counter()
            for h in helpers:
                h.send(f"round {number}")
            answers = [h.result() for h in helpers]
            result.walls.append(time.perf_counter() - started)
            for answer in answers:
                result.ops += [{**o, "round": number} for o in answer["ops"]]
                result.items += answer["items"]
            result.rss[f"round {number + 1}"] = setup.rss()
            # and once the round's work is over (an upload's gzip check, a push's events and
            # the memory given back run after the reply the client waited for)
            idle_after = settle(groups["syncapp"])
            result.settled[f"round {number + 1}"] = setup.rss()
            failed = sum(1 for a in answers for o in a["ops"] if not o["ok"])
            log(f"  round {number + 1}/{args.rounds}: {result.walls[-1]:.1f} s, {failed} errors, "
                f"RSS {result.rss[f'round {number + 1}'] / MiB:.0f} MiB at once, "
                f"{result.settled[f'round {number + 1}'] / MiB:.0f} MiB once idle "
                f"({idle_after:.0f} s later)")  # fmt: skip
        result.cpu = meter.spent()
    finally:
        for h in helpers:
            h.stop()
    # Right after the clients have disconnected and their processes ended.
    result.rss["clients gone"] = setup.rss()
    if setup.nginx is not None:
        for _, upstream, _, _ in setup.nginx.log_lines():
            result.upstreams[upstream] = result.upstreams.get(upstream, 0) + 1
    return result


# -- verification: read every item back from the S3 server itself -------------------------------


def verify(result: Result, setup: Setup, stack: Stack, log) -> None:
    """Every archive and snapshot the clients were told was stored is on S3 with the MD5 they
    sent, and nothing else is (sidecars, latest.json and ZIP extractions excepted)."""
    from tests.peers.s3 import admin_client

    client = admin_client(stack.s3.settings, timeout=120)
    bucket = stack.s3.settings["bucket"]

    def keys(prefix: str) -> list[str]:
        found = []
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            found += [item["Key"] for item in page.get("Contents", [])]
        return found

    def md5_of(key: str) -> str:
        body = client.get_object(Bucket=bucket, Key=key)["Body"]
        digest = hashlib.md5()
        for chunk in iter(lambda: body.read(MiB), b""):
            digest.update(chunk)
        return digest.hexdigest()

    expected: dict[str, str] = {}  # S3 key (or device folder + md5) -> md5
    archives = f"{setup.prefixes['archives']}/FULL/"
    for item in result.items:
        if "name" in item:
            expected[archives + item["name"]] = item["md5"]
    stored_archives = [k for k in keys(archives) if k.endswith(".tar.gz")]
    snapshot_keys = [
        k for k in keys(setup.prefixes["snapshots"] + "/")
        if not k.endswith(".json") and k.count("/") == setup.prefixes["snapshots"].count("/") + 3
    ]  # fmt: skip
    with ThreadPoolExecutor(8) as pool:
        archive_md5 = dict(zip(stored_archives, pool.map(md5_of, stored_archives), strict=True))
        snapshot_md5 = dict(zip(snapshot_keys, pool.map(md5_of, snapshot_keys), strict=True))
    client.close()
    for key, md5 in expected.items():
        if archive_md5.get(key) != md5:
            result.lost.append(
                f"archive {key}: {'missing' if key not in archive_md5 else 'corrupt'}"
            )
    result.lost += [f"unexpected archive {k}" for k in archive_md5 if k not in expected]
    acked: dict[str, set[str]] = {}
    unacked: dict[str, set[str]] = {}
    for item in result.items:
        if "device" in item:
            sent = acked if item.get("acked", True) else unacked
            sent.setdefault(item["device"], set()).add(item["md5"])
    held: dict[str, list[str]] = {}
    for key, md5 in snapshot_md5.items():
        held.setdefault(key.rsplit("/", 2)[1], []).append(md5)
    in_doubt_stored = 0
    for device in sorted(set(acked) | set(held)):
        stored = held.get(device, [])
        missing = acked.get(device, set()) - set(stored)
        unexpected = [md5 for md5 in stored if md5 not in acked.get(device, set())]
        in_doubt = [md5 for md5 in unexpected if md5 in unacked.get(device, set())]
        in_doubt_stored += len(in_doubt)
        if missing or len(stored) != len(set(stored)) or len(unexpected) > len(in_doubt):
            counts = f"acknowledged {len(acked.get(device, ()))}, stored {len(stored)}"
            result.lost.append(f"snapshots of {device}: {counts} (or different bytes)")
    if in_doubt_stored:
        log(f"  {in_doubt_stored} push(es) without an ack were stored whole (the client would "
            "push again; the server deduplicates)")  # fmt: skip
    result.verified = len(archive_md5) + len(snapshot_md5)
    log(f"  verified {len(archive_md5)} archives and {len(snapshot_md5)} snapshots on S3 by MD5: "
        f"{len(result.lost)} lost or corrupt")  # fmt: skip


# -- report -----------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else 0.0


def describe(result: Result, args, log) -> None:
    seconds = result.seconds
    walls = ", ".join(f"{w:.1f}" for w in result.walls)
    log(f"\n[{result.name}] rounds took {walls} s; below: rounds 2-{args.rounds} "
        f"({seconds:.1f} s), round 1 warms up")  # fmt: skip
    log(f"  {'kind':7} {'ok':>6} {'errors':>6} {'ops/s':>7} {'MB/s':>7} {'p50 s':>7} {'p99 s':>7}")
    for kind in ("upload", "push", "read"):
        ops = result.of(kind)
        good = [o["s"] for o in ops if o["ok"]]
        size = sum(o["bytes"] for o in ops if o["ok"])
        log(f"  {kind:7} {len(good):6} {len(ops) - len(good):6} {len(good) / seconds:7.1f} "
            f"{size / seconds / 1e6:7.1f} {percentile(good, 0.5):7.3f} "
            f"{percentile(good, 0.99):7.3f}")  # fmt: skip
    log(f"  payload {result.payload / seconds / 1e6:.1f} MB/s in all")
    busy = [o.get("busy", 0) for o in result.ops if o["kind"] == "push"]
    log(f"  pushes refused as busy and sent again when asked (all rounds): {sum(busy)} "
        f"refusals, {sum(1 for b in busy if b)} pushes")  # fmt: skip
    log(f"  errors in all rounds: {len(result.errors)}")
    kinds: dict[str, int] = {}
    for error in result.errors:
        first_line = f"{error['kind']}: {(error['e'].strip().splitlines() or [''])[0][:160]}"
        kinds[first_line] = kinds.get(first_line, 0) + 1
    for text, count in sorted(kinds.items(), key=lambda kv: -kv[1])[:8]:
        log(f"  {count} x {text}")
    log("  RSS of every gunicorn process: "
        + ", ".join(f"{k} {v / MiB:.0f} MiB" for k, v in result.rss.items()))  # fmt: skip
    log("  the same once the servers were idle after each round: "
        + ", ".join(f"{k} {v / MiB:.0f} MiB" for k, v in result.settled.items()))  # fmt: skip
    log("  CPU seconds during the rounds: "
        + ", ".join(f"{k} {v:.1f}" for k, v in result.cpu.items()))  # fmt: skip
    if result.upstreams:
        log("  requests per upstream (nginx access log): "
            + ", ".join(f"{k} {v}" for k, v in sorted(result.upstreams.items())))  # fmt: skip


def verdicts(results: list[Result], args, log) -> bool:
    ok = True
    log("")
    for result in results:
        errors, lost = len(result.errors), len(result.lost)
        warm, end = result.rss["round 1"], result.rss[f"round {args.rounds}"]
        growth = end / warm - 1
        # judged once the round's work is over: read at once, RSS includes what is still in
        # flight after the clients' replies (printed too, for comparison with earlier runs)
        idle_growth = result.settled[f"round {args.rounds}"] / result.settled["round 1"] - 1
        memory_ok = idle_growth <= MEMORY_TARGET
        ok = ok and errors == 0 and lost == 0 and memory_ok
        log(f"[{result.name}] errors {errors} (target 0): {'met' if not errors else 'MISSED'}; "
            f"lost or corrupt {lost} of {result.verified} (target 0): "
            f"{'met' if not lost else 'MISSED'}; RSS after the last round vs after round 1, "
            f"once idle: {idle_growth:+.1%} (target <= +10 %): "
            f"{'met' if memory_ok else 'MISSED'} (read at once: {growth:+.1%}); "
            f"vs before the load: {end / result.rss['cold']:.1f} x")  # fmt: skip
    if len(results) == 2:
        one, two = results
        ratio = two.payload / two.seconds / (one.payload / one.seconds)
        medians = {
            kind: percentile(two.latencies(kind), 0.5) / percentile(one.latencies(kind), 0.5)
            for kind in ("upload", "push", "read")
            if one.latencies(kind) and two.latencies(kind)
        }
        latency = ", ".join(f"{kind} {value:.2f}" for kind, value in medians.items())
        log(
            f"\nthroughput, {two.name} / {one.name}: {ratio:.2f} (MB/s of payload stored); p50 "
            f"latency, "
            f"{two.name} / {one.name}: {latency}"
        )
    return ok


# -- main -------------------------------------------------------------------------------------


SETUP_NAMES = {1: "1 process", 2: "2 processes + nginx"}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a small load, for a busy machine")
    parser.add_argument("--rounds", type=int)
    parser.add_argument("--uploaders", type=int)
    parser.add_argument("--upload-size", type=parse_size)
    parser.add_argument("--pushers", type=int)
    parser.add_argument("--push-size", type=parse_size)
    parser.add_argument("--readers", type=int)
    parser.add_argument(
        "--read-passes", type=int, default=2, help="read paths per reader and round"
    )
    parser.add_argument("--upload-procs", type=int, default=2)
    parser.add_argument("--push-procs", type=int, default=4)
    parser.add_argument("--s3", choices=("seaweedfs", "moto"), default="seaweedfs")
    parser.add_argument("--setups", default="1,2", help="1, 2 or 1,2")
    parser.add_argument("--role", choices=sorted(ROLES), help=argparse.SUPPRESS)
    parser.add_argument("--spec", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    full = {"rounds": 5, "uploaders": 50, "upload_size": 10 * MiB, "pushers": 200,
            "push_size": MiB, "readers": 4}  # fmt: skip
    quick = {"rounds": 3, "uploaders": 8, "upload_size": 2 * MiB, "pushers": 24,
             "push_size": 256 * 1024, "readers": 2}  # fmt: skip
    for key, value in (quick if args.quick else full).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.quick:
        args.upload_procs, args.push_procs = min(args.upload_procs, 1), min(args.push_procs, 2)
    args.setups = [int(s) for s in args.setups.split(",")]
    if args.rounds < 2:
        parser.error("--rounds must be at least 2 (round 1 is the memory baseline)")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.role:
        return helper(args.role, json.loads(args.spec or os.environ["LOAD_SPEC"]))

    def log(line: str) -> None:
        print(line, flush=True)

    log(f"$ {' '.join([Path(sys.executable).name, *sys.argv])}")
    log(f"{date.today()}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; "
        f"{args.rounds} rounds of: {args.uploaders} uploads of {args.upload_size / MiB:g} MiB, "
        f"{args.pushers} pushes of {args.push_size / MiB:g} MiB, {args.readers} readers x "
        f"{args.read_passes} x {len(READ_PATHS)} GETs; S3: {args.s3}")  # fmt: skip
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="bench-load-", dir="/var/tmp") as tmp:
        stack = Stack(Path(tmp), args.s3)
        try:
            for count in args.setups:
                name = SETUP_NAMES[count]
                log(f"\n{name}: starting")
                setup = start_setup(name.split()[0] + "p", count, stack, Path(tmp))
                try:
                    try:
                        result = run_setup(setup, stack, args, log)
                    finally:
                        setup.stop()
                    result.name = name
                    verify(result, setup, stack, log)
                finally:
                    stack.drop_database(setup.database)
                results.append(result)
                describe(result, args, log)
            ok = verdicts(results, args, log)
        finally:
            stack.stop()
    log(f"(load average at the end {os.getloadavg()[0]:.1f})")
    return 0 if ok else 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
