"""The real restic client (Debian's package) against syncapp under gunicorn: init, backup,
deduplication, snapshots, check --read-data, restore, forget --prune, unlock; on the local
store and on the S3 peer; credentials, tenancy, append-only, verified names and quotas.

One server for the module (tests make repositories of unique names); each restic run gets a
fresh HOME and cache folder of its test.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest
import requests

from tests.live import LiveServer
from tests.peers.process import require_executable, wait_until
from tests.peers.s3 import empty_prefix
from tests.raw_http import Connection, request_bytes

pytestmark = pytest.mark.e2e


@pytest.fixture(autouse=True)
def _restic_installed() -> None:
    """The real client is a peer: missing, it skips here and fails under CI=true."""
    require_executable("restic", "scripts/install_peers installs Debian's restic")


PASSWORD = "repository-password-123"


class User:
    def __init__(self, email: str, token: str) -> None:
        self.email = email
        self.token = token

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("restic-live")
    live = LiveServer(workdir, threads=16, env={"SYNCAPP_RESTIC_ROOT": str(workdir / "restic")})
    live.prepare()
    live.start()
    yield live
    live.stop()


@pytest.fixture(scope="module")
def users(server):
    tag = uuid.uuid4().hex[:6]
    emails = f"a-{tag}@example.com", f"b-{tag}@example.com"
    tokens = server.add_users((emails[0], "password-a-123456"), (emails[1], "password-b-123456"))
    a, b = (User(email, token) for email, token in zip(emails, tokens, strict=True))
    admin = User("live@example.com", server.token)
    return {"a": a, "b": b, "admin": admin}


class Restic:
    """restic as a user runs it: the URL form with the email and a token."""

    def __init__(self, server: LiveServer, user: User, repo: str, home: Path) -> None:
        host = server.url.removeprefix("http://")
        self.url = f"rest:http://{quote(user.email, safe='')}:{user.token}@{host}/restic/{repo}/"
        home.mkdir(parents=True, exist_ok=True)
        self.env = {
            "PATH": os.environ["PATH"],
            "HOME": str(home),
            "RESTIC_PASSWORD": PASSWORD,
            "RESTIC_CACHE_DIR": str(home / "cache"),
            "RESTIC_REPOSITORY": self.url,
        }

    def run(self, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["restic", *args],
            env=self.env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

    def ok(self, *args: str, cwd: Path | None = None) -> str:
        result = self.run(*args, cwd=cwd)
        assert result.returncode == 0, f"restic {args}: {result.stdout}\n{result.stderr}"
        return result.stdout

    def until_refused(self, *args: str) -> tuple[int, str]:
        """Run restic until it reports the server's refusal of a delete, then interrupt it: its
        exit status and stderr. restic 0.14 retries a refused delete 10 times with backoff
        (~45 s) before it gives up with the same message; SIGINT cancels those retries, and
        restic removes its own lock as it stops. A restic that gives up at once runs to its end."""
        process = subprocess.Popen(
            ["restic", *args],
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        lines = []
        try:
            for line in process.stderr:  # type: ignore[union-attr]
                lines.append(line)
                if "returned error, retrying" in line and "403" in line:
                    process.send_signal(signal.SIGINT)
                    break
            _, rest = process.communicate(timeout=300)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        return process.returncode, "".join(lines) + rest

    def backup(self, tree: Path) -> dict:
        out = self.ok("backup", "--json", ".", cwd=tree)
        summaries = [json.loads(line) for line in out.splitlines() if '"summary"' in line]
        assert summaries, out
        return summaries[-1]

    def snapshots(self) -> list[dict]:
        return json.loads(self.ok("snapshots", "--json"))


def make_tree(root: Path) -> Path:
    """Many small files, a few bigger ones (a few MiB: suite time), symlinks, empty folders."""
    tree = root / "tree"
    for i in range(300):
        folder = tree / f"dir{i % 12}" / f"sub{i % 5}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"file{i}.txt").write_text(f"small file {i}\n" * (i % 40 + 1))
    rng = hashlib.sha256(uuid.uuid4().bytes)
    for name, mib in (("big1.bin", 3), ("big2.bin", 1)):
        with open(tree / name, "wb") as handle:
            for _ in range(mib * 32):
                block = b"".join(
                    (rng := hashlib.sha256(rng.digest())).digest() for _ in range(1024)
                )
                handle.write(block)
    (tree / "empty").mkdir()
    (tree / "dir0" / "empty-too").mkdir()
    (tree / "link-to-big").symlink_to("big1.bin")
    (tree / "dir1" / "dangling").symlink_to("../nowhere")
    return tree


def diff(a: Path, b: Path) -> None:
    result = subprocess.run(
        ["diff", "-r", "--no-dereference", str(a), str(b)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def repositories(server: LiveServer, user: User) -> dict[str, dict]:
    reply = requests.get(
        f"{server.url}/api/v1/restic/repositories", headers=user.headers, timeout=30
    )
    assert reply.status_code == 200, reply.text
    return {repo["name"]: repo for repo in reply.json()["repositories"]}


def create(server: LiveServer, owner: User, name: str, **body) -> dict:
    reply = requests.post(
        f"{server.url}/api/v1/restic/repositories",
        params={"owner": owner.email},
        json={"name": name, **body},
        headers=server.headers,
        timeout=30,
    )
    assert reply.status_code == 201, reply.text
    return reply.json()


@pytest.fixture
def s3_store(server, s3_server):
    """A stored S3 remote (the moto peer) for repositories of their own."""
    name = f"s3-{uuid.uuid4().hex[:8]}"
    prefix = f"restic-{uuid.uuid4().hex[:8]}"
    reply = requests.post(
        f"{server.url}/api/v1/remotes",
        json={"name": name, "kind": "s3", "settings": {**s3_server.settings, "prefix": prefix}},
        headers=server.headers,
        timeout=30,
    )
    assert reply.status_code == 201, reply.text
    yield name
    empty_prefix(s3_server.settings, prefix + "/")


@pytest.mark.parametrize("store", ["local", "s3"])
def test_backup_check_restore_forget(server, users, tmp_path, store, request):
    a = users["a"]
    repo = f"{store}-{uuid.uuid4().hex[:8]}"
    if store == "s3":
        create(server, a, repo, remote=request.getfixturevalue("s3_store"))
    restic = Restic(server, a, repo, tmp_path / "home")
    tree = make_tree(tmp_path)

    restic.ok("init")  # on the local store, this creates the repository
    first = restic.backup(tree)
    assert first["files_new"] == 302 and first["data_added"] > 4 * 1024**2
    second = restic.backup(tree)
    assert second["files_new"] == 0 and second["files_unmodified"] == 302
    assert second["data_added"] < 64 * 1024, second  # deduplicated: nothing new uploaded
    assert len(restic.snapshots()) == 2

    restic.ok("check", "--read-data")
    target = tmp_path / "restored"
    restic.ok("restore", "latest", "--target", str(target))
    diff(tree, target)
    assert os.readlink(target / "link-to-big") == "big1.bin"

    shown = repositories(server, a)[repo]
    assert shown["objects"]["snapshots"] == 2 and shown["objects"]["data"] >= 1
    assert shown["size"] > 4 * 1024**2 and shown["last_snapshot_at"]
    assert shown["remote"] == (None if store == "local" else request.getfixturevalue("s3_store"))
    assert f"/restic/{repo}/" in shown["command"]

    restic.ok("forget", "--keep-last", "1", "--prune")
    assert len(restic.snapshots()) == 1
    restic.ok("check")
    restic.ok("unlock")


def test_append_only_refuses_prune_but_not_backups(server, users, tmp_path):
    a = users["a"]
    repo = f"ao-{uuid.uuid4().hex[:8]}"
    create(server, a, repo, append_only=True)
    restic = Restic(server, a, repo, tmp_path / "home")
    tree = make_tree(tmp_path)
    restic.ok("init")
    restic.backup(tree)
    (tree / "new.txt").write_text("a change\n")
    restic.backup(tree)

    code, stderr = restic.until_refused("forget", "--keep-last", "1", "--prune")
    assert code != 0
    assert "403" in stderr or "Forbidden" in stderr, stderr
    assert "Remove(<snapshot/" in stderr or "unable to remove <snapshot/" in stderr, stderr
    restic.ok("unlock", "--remove-all")  # locks may go: restic could not work otherwise
    assert len(restic.snapshots()) == 2
    restic.ok("check")

    # the protocol's answer, as rest-server --append-only: deletes refused, but of locks
    base = f"{server.url}/restic/{repo}"
    snapshot = restic.snapshots()[0]["id"]
    reply = requests.delete(f"{base}/snapshots/{snapshot}", headers=a.headers, timeout=30)
    assert reply.status_code == 403
    lock = b"a lock"
    name = hashlib.sha256(lock).hexdigest()
    assert requests.post(f"{base}/locks/{name}", data=lock, headers=a.headers, timeout=30).ok
    assert requests.delete(f"{base}/locks/{name}", headers=a.headers, timeout=30).status_code == 200
    assert requests.delete(f"{base}/config", headers=a.headers, timeout=30).status_code == 403


def test_wrong_token_gets_401_and_restic_says_so(server, users, tmp_path):
    a = users["a"]
    repo = f"auth-{uuid.uuid4().hex[:8]}"
    Restic(server, a, repo, tmp_path / "home").ok("init")
    wrong = Restic(server, User(a.email, "sa_not-a-token"), repo, tmp_path / "wrong")
    result = wrong.run("snapshots")
    assert result.returncode != 0
    assert "401" in result.stderr or "Unauthorized" in result.stderr, result.stderr

    # the Basic user name must be the token's user
    other = Restic(server, User("someone@example.com", a.token), repo, tmp_path / "other")
    assert other.run("snapshots").returncode != 0
    reply = requests.get(f"{server.url}/restic/{repo}/keys/", auth=(a.email, "nope"), timeout=30)
    assert reply.status_code == 401 and reply.headers["WWW-Authenticate"].startswith("Basic")


def test_user_b_cannot_list_or_read_as_repository(server, users, tmp_path):
    a, b = users["a"], users["b"]
    repo = f"tenancy-{uuid.uuid4().hex[:8]}"
    restic = Restic(server, a, repo, tmp_path / "home")
    restic.ok("init")
    key = json.loads(restic.ok("key", "list", "--json"))[0]["id"]
    keys = requests.get(f"{server.url}/restic/{repo}/keys/", headers=a.headers, timeout=30)
    assert keys.status_code == 200 and len(keys.json()) == 1
    full = keys.json()[0]

    for path in ("keys/", "config", f"keys/{full}", "data/"):
        reply = requests.get(f"{server.url}/restic/{repo}/{path}", headers=b.headers, timeout=30)
        assert reply.status_code == 404, (path, reply.status_code)
        assert full not in reply.text
    assert key and Restic(server, b, repo, tmp_path / "b").run("snapshots").returncode != 0
    repo_id = repositories(server, a)[repo]["id"]
    reply = requests.get(
        f"{server.url}/api/v1/restic/repositories/{repo_id}", headers=b.headers, timeout=30
    )
    assert reply.status_code == 404
    assert repo not in repositories(server, b)


def test_protocol_details(server, users, tmp_path):
    """v1 and v2 listings, HEAD, Range (206), no overwrite, a wrong data name refused (400)
    and nothing kept."""
    a = users["a"]
    repo = f"proto-{uuid.uuid4().hex[:8]}"
    base = f"{server.url}/restic/{repo}"
    assert requests.post(f"{base}/", headers=a.headers, timeout=30).status_code == 400
    assert requests.post(f"{base}/?create=true", headers=a.headers, timeout=30).status_code == 200
    assert requests.head(f"{base}/config", headers=a.headers, timeout=30).status_code == 404
    assert requests.post(f"{base}/config", data=b"cfg", headers=a.headers, timeout=30).ok
    assert (
        requests.post(f"{base}/config", data=b"x", headers=a.headers, timeout=30).status_code == 403
    )

    content = os.urandom(300_000)
    name = hashlib.sha256(content).hexdigest()
    assert requests.post(f"{base}/data/{name}", data=content, headers=a.headers, timeout=30).ok
    head = requests.head(f"{base}/data/{name}", headers=a.headers, timeout=30)
    assert head.status_code == 200 and head.headers["Content-Length"] == str(len(content))
    ranged = requests.get(
        f"{base}/data/{name}", headers={**a.headers, "Range": "bytes=1000-1999"}, timeout=30
    )
    assert ranged.status_code == 206 and ranged.content == content[1000:2000]
    # a local store's ranges go out with sendfile(): each ends at its Content-Length, so the
    # next request on the same kept-alive connection starts where it should
    with requests.Session() as session:
        for wanted, expected in (
            ("bytes=-500", content[-500:]),
            ("bytes=299000-", content[299000:]),
            ("bytes=5-5", content[5:6]),
        ):
            reply = session.get(
                f"{base}/data/{name}", headers={**a.headers, "Range": wanted}, timeout=30
            )
            assert reply.status_code == 206 and reply.content == expected, wanted
    assert requests.get(f"{base}/data/{name}", headers=a.headers, timeout=30).content == content

    v1 = requests.get(f"{base}/data/", headers=a.headers, timeout=30)
    assert v1.json() == [name] and v1.headers["Content-Type"].startswith(
        "application/vnd.x.restic.rest.v1"
    )
    v2 = requests.get(
        f"{base}/data/",
        headers={**a.headers, "Accept": "application/vnd.x.restic.rest.v2"},
        timeout=30,
    )
    assert v2.json() == [{"name": name, "size": len(content)}]

    wrong = hashlib.sha256(b"something else").hexdigest()
    reply = requests.post(f"{base}/data/{wrong}", data=content, headers=a.headers, timeout=30)
    assert reply.status_code == 400 and reply.json()["error"] == "hash_mismatch"
    assert requests.head(f"{base}/data/{wrong}", headers=a.headers, timeout=30).status_code == 404
    assert requests.get(f"{base}/data/", headers=a.headers, timeout=30).json() == [name]
    stored = list((server.workdir / "restic").rglob(f"*{wrong}*"))
    assert stored == []
    assert requests.get(f"{base}/nothing/", headers=a.headers, timeout=30).status_code == 404


def test_quota_refuses_with_507_and_keeps_nothing(server, users):
    a = users["a"]
    repo = f"quota-{uuid.uuid4().hex[:8]}"
    create(server, a, repo, quota_bytes=100_000)
    base = f"{server.url}/restic/{repo}"
    small = os.urandom(60_000)
    assert requests.post(
        f"{base}/data/{hashlib.sha256(small).hexdigest()}",
        data=small,
        headers=a.headers,
        timeout=30,
    ).ok
    big = os.urandom(60_000)
    name = hashlib.sha256(big).hexdigest()
    declared = requests.post(f"{base}/data/{name}", data=big, headers=a.headers, timeout=30)
    assert declared.status_code == 507
    # no Content-Length (chunked): refused while the bytes arrive
    streamed = requests.post(
        f"{base}/data/{name}",
        data=iter([big[:30_000], big[30_000:]]),
        headers=a.headers,
        timeout=30,
    )
    assert streamed.status_code == 507
    assert requests.head(f"{base}/data/{name}", headers=a.headers, timeout=30).status_code == 404
    assert list((server.workdir / "restic").rglob(f"*{name}*")) == []
    assert repositories(server, a)[repo]["size"] == 60_000


def test_a_flipped_byte_is_found_by_restic_check_and_by_the_scrub_and_alerts(
    server, users, tmp_path
):
    """Issue 21: a data object corrupted on disk is found by `restic check --read-data`, by
    syncapp's scrub (kind "restic"), and the scrub_findings alert fires for its owner."""
    a = users["a"]
    repo = f"rot-{uuid.uuid4().hex[:8]}"
    restic = Restic(server, a, repo, tmp_path / "home")
    restic.ok("init")
    restic.backup(make_tree(tmp_path))
    restic.ok("check", "--read-data")
    packs = sorted(
        (p for p in (server.workdir / "restic").glob(f"u*/{repo}/data/*/*") if p.is_file()),
        key=lambda p: p.stat().st_size,
    )
    pack = packs[-1]
    assert hashlib.sha256(pack.read_bytes()).hexdigest() == pack.name
    content = bytearray(pack.read_bytes())
    content[len(content) // 2] ^= 0xFF
    pack.write_bytes(bytes(content))
    assert hashlib.sha256(pack.read_bytes()).hexdigest() != pack.name

    found = restic.run("check", "--read-data")
    assert found.returncode != 0
    assert pack.name[:8] in found.stdout + found.stderr, found.stdout + found.stderr

    with pytest.raises(RuntimeError) as scrubbed:  # `flask scrub run` exits 1 on findings
        server.flask("scrub", "run")
    assert "corrupt" in str(scrubbed.value), scrubbed.value
    reply = requests.get(
        f"{server.url}/api/v1/scrub/findings",
        params={"kind": "restic", "integrity": "corrupt"},
        headers=server.headers,
        timeout=30,
    )
    assert reply.status_code == 200, reply.text
    found = [f for f in reply.json()["findings"] if pack.name in f["detail"]]
    assert len(found) == 1 and found[0]["owner_id"] is not None, reply.json()
    # evaluated now (the server's leader may have been first: then it fires already)
    server.flask("alerts", "evaluate")
    alerts = requests.get(f"{server.url}/api/v1/alerts", headers=a.headers, timeout=30)
    assert any(
        alert["key"] == f"scrub_findings:{found[0]['owner_id']}" and alert["state"] == "firing"
        for alert in alerts.json()["alerts"]
    ), alerts.text


def test_bodies_read_from_the_socket_keep_the_connection_in_step(server, users):
    """Objects' bodies are read straight from gunicorn's socket (syncapp/bodies.py): requests
    pipelined behind a body, and the next ones on the kept-alive connection, are answered in
    order; a client gone mid-body leaves nothing, and the server goes on serving."""
    a = users["a"]
    repo = f"socket-{uuid.uuid4().hex[:8]}"
    base = f"/restic/{repo}"
    assert requests.post(f"{server.url}{base}/?create=true", headers=a.headers, timeout=30).ok
    contents = [os.urandom(n) for n in (3_000_000, 1, 70_000)]
    names = [hashlib.sha256(c).hexdigest() for c in contents]

    conn = Connection(server.port)
    try:
        conn.send(
            request_bytes("POST", f"{base}/data/{names[0]}", server.port, a.headers, contents[0]),
            request_bytes("POST", f"{base}/data/{names[1]}", server.port, a.headers, contents[1]),
            request_bytes("GET", f"{base}/data/", server.port, a.headers, b""),
        )
        assert conn.response()[0] == 200
        assert conn.response()[0] == 200
        status, _, listing = conn.response()
        assert status == 200 and sorted(json.loads(listing)) == sorted(names[:2])
        conn.send(  # the same connection, kept alive
            request_bytes("POST", f"{base}/data/{names[2]}", server.port, a.headers, contents[2])
        )
        assert conn.response()[0] == 200
        conn.send(request_bytes("GET", f"{base}/data/{names[0]}", server.port, a.headers, b""))
        status, _, body = conn.response()
        assert status == 200 and body == contents[0]
    finally:
        conn.close()

    cut = os.urandom(4_000_000)
    name = hashlib.sha256(cut).hexdigest()
    conn = Connection(server.port)
    conn.send(request_bytes("POST", f"{base}/data/{name}", server.port, a.headers, cut)[:2_000_000])
    conn.close()
    store = server.workdir / "restic"
    wait_until(lambda: not list(store.rglob(f"*{name}*")), 30, "the cut upload's temp to go")
    head = requests.head(f"{server.url}{base}/data/{name}", headers=a.headers, timeout=30)
    assert head.status_code == 404
    listed = requests.get(f"{server.url}{base}/data/", headers=a.headers, timeout=30).json()
    assert sorted(listed) == sorted(names)
