"""Two syncapp gunicorn processes behind the production nginx.conf, sharing one deployment:
PostgreSQL (a database of their own), Redis (Socket.IO message queue and rate limits, on a
channel of their own), and moto S3 stores for archives and snapshots.

nginx's ip_hash keys on the first three octets of the client's IPv4 address, so every 127.0.0.1
client lands on the same process. `Cluster.source_for(node)` finds a source address on 127/8
(127.0.N.1) that nginx sends to that node, and `Cluster.served(ip)` reads nginx's access log to
prove which node served each request from that address.
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis
import requests
import socketio

from tests.live import LiveServer
from tests.peers.databases import redis_database
from tests.peers.nginx import MARKER_HEADER, NginxServer, session_from, start_nginx
from tests.peers.process import Peer, wait_until
from tests.peers.s3 import empty_prefix

#: seconds between runs of the scheduled job the tests count (cordiax.pollers)
JOB_INTERVAL = 3
COUNTED_JOB = "cordiax.pollers"
#: failed logins a client may try per minute, counted across both processes (Redis)
LOGIN_LIMIT = 3
#: stored remotes (S3) for the archive and snapshot stores
STORES = ("archives", "snapshots")


@dataclass
class Cluster:
    nodes: list[LiveServer]
    nginx: NginxServer
    database_url: str
    redis_url: str
    channel: str
    sync_root: Path
    token: str
    _sources: dict[int, str] = field(default_factory=dict)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def upstream(self, node: LiveServer) -> str:
        return f"127.0.0.1:{node.port}"

    # --- which process serves whom ----------------------------------------------------------

    def source_for(self, node: LiveServer) -> str:
        """A client address nginx sends to `node`, proven by a probe request in its log."""
        if node.port in self._sources:
            return self._sources[node.port]
        for n in range(1, 255):
            ip = f"127.0.{n}.1"
            if ip in self._sources.values():
                continue
            marker = f"probe-{uuid.uuid4().hex[:8]}"
            with session_from(ip) as session:
                reply = session.get(
                    f"{self.nginx.url}/api/v1/health", headers={MARKER_HEADER: marker}, timeout=10
                )
            assert reply.status_code == 200
            # nginx writes the log line as it finishes the request, maybe after we read the reply
            logged = partial(self.nginx.served_by, marker)
            wait_until(logged, timeout=10, what="nginx's log line")
            [upstream] = logged()
            owner = next(s for s in self.nodes if self.upstream(s) == upstream)
            self._sources.setdefault(owner.port, ip)
            if node.port in self._sources:
                return self._sources[node.port]
        raise AssertionError(f"no 127.0.N.1 address maps to {self.upstream(node)}")

    def served(self, ip: str) -> set[str]:
        """Every upstream nginx used for requests from `ip`."""
        return {upstream for client, upstream, _, _ in self.nginx.log_lines() if client == ip}

    def session(self, node: LiveServer) -> requests.Session:
        session = session_from(self.source_for(node))
        session.headers.update(self.headers)
        return session

    def events_client(self, node: LiveServer) -> socketio.Client:
        """A browser-side Socket.IO client on /events, through nginx, served by `node`.

        Long-polling: its requests go through the bound requests session (python-socketio's
        WebSocket transport cannot choose a source address)."""
        client = socketio.Client(
            reconnection=False, http_session=session_from(self.source_for(node))
        )
        return client

    # --- process state ----------------------------------------------------------------------

    def status(self, node: LiveServer) -> dict[str, Any]:
        reply = requests.get(f"{node.url}/api/v1/status", headers=self.headers, timeout=10)
        reply.raise_for_status()
        return reply.json()

    def leader(self) -> tuple[LiveServer, LiveServer]:
        """(leader, follower), asked of the processes themselves."""
        roles = {}

        def both_answer() -> bool:
            roles.clear()
            for node in self.nodes:
                if node.process is not None and node.process.running:
                    roles[node.port] = self.status(node)["scheduler"]["role"]
            return sorted(roles.values()) == ["follower", "leader"]

        wait_until(both_answer, 60, "one leader and one follower")
        leader = next(n for n in self.nodes if roles[n.port] == "leader")
        return leader, next(n for n in self.nodes if n is not leader)

    def query(self, sql: str, *params: Any) -> list[tuple]:
        with psycopg.connect(self.database_url) as conn:
            return conn.execute(sql, params).fetchall()

    def warm_up(self) -> None:
        """Socket.IO's Redis listener starts with a process's first client: connect one to each
        process directly, and wait until Redis counts both subscribed on the cluster's channel."""
        for node in self.nodes:
            client = socketio.Client(reconnection=False)
            client.connect(node.url, namespaces=["/events"], auth={"token": self.token},
                           wait_timeout=30)  # fmt: skip
            client.disconnect()
        queue = redis.Redis.from_url(self.redis_url)
        try:
            wait_until(
                lambda: (
                    dict(queue.pubsub_numsub(self.channel)).get(self.channel.encode(), 0)
                    >= len(self.nodes)
                ),
                30,
                "both processes to listen on the Socket.IO channel",
            )
        finally:
            queue.close()


def _bound_socket(ip: str, port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=30, source_address=(ip, 0))


def websocket_through(cluster: Cluster, node: LiveServer, path: str = "/api/v1/ws") -> Any:
    """A plain WebSocket through nginx, from the address nginx sends to `node`."""
    import websocket

    sock = _bound_socket(cluster.source_for(node), cluster.nginx.port)
    url = f"ws://127.0.0.1:{cluster.nginx.port}{path}"
    return websocket.create_connection(
        url, socket=sock, header=[f"Authorization: Bearer {cluster.token}"], timeout=30
    )


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, postgres_server, redis_server, s3_server: Peer) -> Iterator[Cluster]:
    workdir = tmp_path_factory.mktemp("scale")
    name = f"syncapp_scale_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    database_url = f"{postgres_server.rsplit('/', 1)[0]}/{name}"
    redis_url = f"{redis_server}/{redis_database(8)}"
    channel = f"syncapp-scale-{uuid.uuid4().hex[:8]}"
    prefix = f"scale-{uuid.uuid4().hex[:8]}"
    sync_root = workdir / "sync"
    sync_root.mkdir()
    env = {
        "DATABASE_URL": database_url,
        "SOCKETIO_MESSAGE_QUEUE": redis_url,
        "SYNCAPP_SOCKETIO_CHANNEL": channel,
        "SYNCAPP_RATELIMIT_STORAGE_URI": redis_url,
        "SYNCAPP_SECURITY_LOGIN_RATE_LIMIT": f"{LOGIN_LIMIT} per minute",
        # As in production behind nginx: the client's address comes from X-Forwarded-For.
        "SYNCAPP_SERVER_TRUSTED_PROXIES": "1",
        "SYNCAPP_BACKUPS_REMOTE": STORES[0],
        "SYNCAPP_CORDIAX_REMOTE": STORES[1],
        "SYNCAPP_SCHEDULER_LEADER_RETRY": "1",
        "SYNCAPP_CORDIAX_POLL_CHECK_INTERVAL": str(JOB_INTERVAL),
        "SYNCAPP_SYNC_ALLOWED_ROOTS": str(sync_root),
    }
    nodes = []
    for i in (1, 2):
        (workdir / f"node{i}").mkdir()
        nodes.append(LiveServer(workdir / f"node{i}", threads=24, env=env))
    nginx: NginxServer | None = None
    try:
        first = nodes[0]
        _prepare(first, s3_server.settings, prefix)
        for node in nodes:
            node.token = first.token
        with ThreadPoolExecutor(2) as pool:  # two slow starts at once (the machine is shared)
            list(pool.map(LiveServer.start, nodes))
        nginx = start_nginx([f"127.0.0.1:{n.port}" for n in nodes], workdir / "nginx")
        built = Cluster(nodes, nginx, database_url, redis_url, channel, sync_root, first.token)
        built.warm_up()
        yield built
    finally:
        if nginx is not None:
            nginx.stop()
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(LiveServer.stop, nodes))
        with psycopg.connect(postgres_server, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if s3_server.process.running:
            empty_prefix(s3_server.settings, prefix + "/")
        redis.Redis.from_url(redis_url).flushdb()


def _prepare(node: LiveServer, s3: dict[str, Any], prefix: str) -> None:
    """LiveServer.prepare (migrations, an admin, its token) plus the two S3 stored remotes, in
    the shared database; each `flask` command takes seconds here, so they run side by side."""
    node.flask("db", "upgrade")

    def admin_and_token() -> None:
        node.flask("users", "create", "--email", "live@example.com",
                   "--password", "live-password-123", "--role", "admin")  # fmt: skip
        out = node.flask("tokens", "create", "--email", "live@example.com", "--name", "live")
        node.token = out.strip().splitlines()[-1]

    def remote(name: str) -> None:
        node.flask(
            "remotes", "create", name, "--kind", "s3",
            "--set", f"bucket={s3['bucket']}",
            "--set", f"endpoint_url={s3['endpoint_url']}",
            "--set", f"region={s3['region']}",
            "--set", f"access_key_id={s3['access_key_id']}",
            "--set", f"secret_access_key={s3['secret_access_key']}",
            "--set", f"prefix={prefix}/{name}",
        )  # fmt: skip

    with ThreadPoolExecutor(3) as pool:
        for future in [pool.submit(admin_and_token), *(pool.submit(remote, n) for n in STORES)]:
            future.result()
