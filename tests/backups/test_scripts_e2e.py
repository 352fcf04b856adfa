"""scripts/backup.sh, upload.sh and verify_sync.sh end to end: real tar, real curl, gunicorn.

The flows that run backup.sh get an owner of their own (private_server) on the module's server:
its archive names are timestamps, so two tests in the same second would collide in one owner's
archives. The others use unique names on `live_server`.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.live import PROJECT, LiveServer
from tests.peers.process import free_port

pytestmark = pytest.mark.e2e

SCRIPTS = PROJECT / "scripts"
NAME = re.compile(r"^(full|inc|diff)_\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d(_\d+)?\.tar\.gz$")
OUR_VARIABLES = ("SERVER_URL", "SYNCAPP_TOKEN", "BACKUP_DIR")


class Client:
    """The scripts as cron would run them: no terminal, settings from the environment only."""

    def __init__(self, workdir: Path, **env: str) -> None:
        self.workdir = workdir
        self.backup_dir = Path(env.pop("BACKUP_DIR", workdir / "backup"))
        base = {k: v for k, v in os.environ.items() if k not in OUR_VARIABLES}
        self.env = {**base, "BACKUP_DIR": str(self.backup_dir), **env}

    def run(self, script: str, *args: str, **env: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(SCRIPTS / script), *args],
            cwd=self.workdir,
            env={**self.env, **env},
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def ok(self, script: str, *args: str, **env: str) -> str:
        result = self.run(script, *args, **env)
        assert result.returncode == 0, f"{script} {args}: {result.stdout}{result.stderr}"
        return result.stdout

    def archives(self, kind: str) -> list[Path]:
        return sorted((self.backup_dir / kind).glob("*.tar.gz"))


def md5_of(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def listed(server: LiveServer | Owner) -> dict[tuple[str, str], dict]:
    response = requests.get(f"{server.url}/list", headers=server.headers, timeout=30)
    assert response.status_code == 200, response.text
    return {
        (kind, item["name"]): item
        for kind, items in response.json()["backups"].items()
        for item in items
    }


def members(archive: Path) -> set[str]:
    result = subprocess.run(
        ["tar", "--list", "--gzip", "--file", str(archive)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return {line for line in result.stdout.splitlines() if not line.endswith("/")}


def changed(path: Path, text: str, offset: int) -> None:
    """Rewrite a file and date it clearly after the last backup: filesystem timestamps are coarse
    (a clock tick), so a file changed a few ms after tar started may carry an earlier mtime."""
    path.write_text(text)
    stamp = time.time_ns() + offset * 1_000_000_000
    os.utime(path, ns=(stamp, stamp))


def make_source(folder: Path) -> Path:
    folder.mkdir()
    past = time.time_ns() - 3600 * 1_000_000_000
    for name in ("a.txt", "b.txt", "c.txt"):
        (folder / name).write_text(f"first version of {name}\n")
        os.utime(folder / name, ns=(past, past))
    return folder


def unique_archive(folder: Path, kind: str, size: int = 64 * 1024) -> Path:
    """A real gzip file under a name no other test uses."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{kind.lower()}_e2e-{uuid.uuid4().hex[:12]}.tar.gz"
    path.write_bytes(gzip.compress(os.urandom(size)))
    return path


@pytest.fixture(scope="module")
def owners_server(tmp_path_factory):
    """The module's server for the flows whose archive names are timestamps: each of their
    tests is an owner of its own on it (private_server)."""
    server = LiveServer(tmp_path_factory.mktemp("owners-server"), threads=16)
    server.prepare()
    server.start()
    yield server
    server.stop()


@dataclass(frozen=True)
class Owner:
    """A user of their own on a server, as the scripts see it: its URL and the user's token."""

    url: str
    token: str
    #: where the server keeps this owner's archives (`users/<id>/<TYPE>/<name>`)
    archive_root: Path

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@pytest.fixture
def private_server(owners_server) -> Owner:
    """A new user on the module's server, made by its administrator, signed in for a token: the
    flows whose archive names are timestamps can run in the same second without colliding, as
    an archive's name is unique per owner (their own server each cost a server start)."""
    email, password = f"owner-{uuid.uuid4().hex[:12]}@example.com", "owner-password-123"
    created = owners_server.create_user(email, password)
    login = requests.post(
        f"{owners_server.url}/auth/login", json={"email": email, "password": password}, timeout=30
    )
    assert login.status_code == 200, login.text
    user_id = created["id"]
    root = owners_server.workdir / "remote_backups" / "users" / str(user_id)
    return Owner(owners_server.url, login.json()["access_token"], root)


@pytest.fixture
def curl_log(tmp_path) -> tuple[Path, Path]:
    """A folder whose `curl` notes its arguments then runs the real curl: shows what was sent."""
    real = subprocess.run(
        ["bash", "-c", "command -v curl"], capture_output=True, text=True, check=True
    ).stdout.strip()
    bin_dir, log = tmp_path / "logging-bin", tmp_path / "curl.log"
    bin_dir.mkdir()
    wrapper = bin_dir / "curl"
    wrapper.write_text(f'#!/bin/sh\nprintf "%s\\n" "$*" >>"{log}"\nexec "{real}" "$@"\n')
    wrapper.chmod(0o755)
    return bin_dir, log


# --- the whole flow ------------------------------------------------------------------------------


def test_backup_upload_verify_full_inc_diff(tmp_path, private_server, curl_log):
    client = Client(tmp_path, SERVER_URL=private_server.url, SYNCAPP_TOKEN=private_server.token)
    source = make_source(tmp_path / "documents")

    client.ok("backup.sh", "docs", str(source), "FULL")
    changed(source / "a.txt", "second version of a\n", 60)
    client.ok("backup.sh", "docs", str(source), "INC")
    changed(source / "b.txt", "second version of b\n", 120)
    (source / "c.txt").unlink()
    client.ok("backup.sh", "docs", str(source), "DIFF")

    [full], [inc], [diff] = (client.archives(kind) for kind in ("FULL", "INC", "DIFF"))
    assert all(NAME.match(path.name) for path in (full, inc, diff))
    assert members(full) == {"./a.txt", "./b.txt", "./c.txt"}
    assert members(inc) == {"./a.txt"}  # changed since the FULL, the last backup
    assert members(diff) == {"./a.txt", "./b.txt"}  # everything changed since the FULL

    # FULL + DIFF restores today's folder, the deleted file included.
    restored = tmp_path / "restored"
    restored.mkdir()
    for archive in (full, diff):
        subprocess.run(
            [
                "tar",
                "--extract",
                "--listed-incremental=/dev/null",
                "--file",
                str(archive),
                "--directory",
                str(restored),
            ],
            check=True,
            timeout=60,
        )
    assert {p.name: p.read_text() for p in restored.iterdir()} == {
        p.name: p.read_text() for p in source.iterdir()
    }

    out = client.ok("upload.sh", "docs", "--all")
    assert "3 uploaded, 0 already on the server, 0 failed" in out
    on_server = listed(private_server)
    for kind, path in (("FULL", full), ("INC", inc), ("DIFF", diff)):
        item = on_server[(kind, path.name)]
        assert item["md5"] == md5_of(path) and item["size"] == path.stat().st_size
        assert item["profile"] == "docs"
        md5_file = path.with_name(path.name + ".md5")
        assert md5_file.read_text() == f"{md5_of(path)}  {path.name}\n"
    # Uploaded oldest first: the server links the INC and the DIFF to their FULL.
    assert on_server[("INC", inc.name)]["base_archive"] == full.name
    assert on_server[("DIFF", diff.name)]["base_archive"] == full.name

    report = client.ok("verify_sync.sh")
    assert "Status: SYNCHRONIZED" in report
    for kind, name in (("FULL", full.name), ("INC", inc.name), ("DIFF", diff.name)):
        assert f"{kind}: 1 local, 1 on the server: 1 synced, 0 missing" in report
        assert name in report

    # A second run sends nothing: what the server has (same name, same MD5) is skipped.
    bin_dir, log = curl_log
    again = client.ok("upload.sh", "docs", "--all", PATH=f"{bin_dir}:{os.environ['PATH']}")
    assert "0 uploaded, 3 already on the server, 0 failed" in again
    calls = log.read_text()
    assert "/list" in calls and "/upload" not in calls
    assert listed(private_server) == on_server


def test_verify_with_stats_and_json(tmp_path, private_server):
    client = Client(tmp_path, SERVER_URL=private_server.url, SYNCAPP_TOKEN=private_server.token)
    source = make_source(tmp_path / "photos")
    client.ok("backup.sh", "photos", str(source))
    client.ok("upload.sh", "photos", "--all")
    [full] = client.archives("FULL")

    text = client.ok("verify_sync.sh", "--stats")
    assert "Status: SYNCHRONIZED" in text
    assert "profile photos: 1 archive(s)" in text and f"last FULL: {full.name}" in text

    verify, stats = (
        json.loads(line)
        for line in client.ok("verify_sync.sh", "--json", "--stats").strip().splitlines()
    )
    assert verify["sync_status"] == "SYNCHRONIZED"
    assert verify["verification"]["FULL"]["synced"] == [full.name]
    assert stats["total"]["files"] == 1 and stats["profiles"]["photos"]["count"] == 1


def test_the_flow_with_the_token_in_the_url(tmp_path, private_server):
    host = private_server.url.removeprefix("http://")
    client = Client(tmp_path, SERVER_URL=f"http://backup:{private_server.token}@{host}")
    source = make_source(tmp_path / "mail")
    client.ok("backup.sh", "mail", str(source), "FULL")
    changed(source / "a.txt", "changed\n", 60)
    client.ok("backup.sh", "mail", str(source), "INC")

    upload = client.run("upload.sh", "mail", "--all")
    assert upload.returncode == 0, upload.stdout + upload.stderr
    verify = client.run("verify_sync.sh")
    assert verify.returncode == 0 and "Status: SYNCHRONIZED" in verify.stdout
    on_server = listed(private_server)
    for kind in ("FULL", "INC"):
        [path] = client.archives(kind)
        assert on_server[(kind, path.name)]["md5"] == md5_of(path)
    # The credentials never appear in what the scripts print.
    for result in (upload, verify):
        assert private_server.token not in result.stdout + result.stderr


# --- differences and failures --------------------------------------------------------------------


def test_a_rewritten_archive_is_reported_as_mismatched(tmp_path, live_server):
    client = Client(tmp_path, SERVER_URL=live_server.url, SYNCAPP_TOKEN=live_server.token)
    kept = unique_archive(client.backup_dir / "FULL", "FULL")
    rewritten = unique_archive(client.backup_dir / "INC", "INC")
    client.ok("upload.sh", "mismatch", "--all")
    assert client.ok("verify_sync.sh").rstrip().endswith("Status: SYNCHRONIZED")

    rewritten.write_bytes(gzip.compress(b"other bytes under the same name"))
    never_sent = unique_archive(client.backup_dir / "DIFF", "DIFF")

    result = client.run("verify_sync.sh")
    assert result.returncode == 1, result.stdout + result.stderr
    assert re.search(rf"MISMATCHED +{re.escape(rewritten.name)}", result.stdout)
    assert f"Mismatched (size or MD5 differ): INC/{rewritten.name}" in result.stdout
    assert f"Missing on remote: DIFF/{never_sent.name}" in result.stdout
    assert "Status: OUT_OF_SYNC" in result.stdout

    raw = client.run("verify_sync.sh", "--json")
    assert raw.returncode == 1
    reply = json.loads(raw.stdout)
    assert reply["sync_status"] == "OUT_OF_SYNC"
    assert reply["verification"]["INC"]["mismatched"] == [rewritten.name]
    assert reply["verification"]["DIFF"]["missing_remote"] == [never_sent.name]
    assert kept.name in reply["verification"]["FULL"]["synced"]

    # upload.sh refuses to replace it, and says why.
    refused = client.run("upload.sh", "mismatch", str(rewritten))
    assert refused.returncode == 1
    assert "different archive under this name" in refused.stderr
    assert listed(live_server)[("INC", rewritten.name)]["md5"] != md5_of(rewritten)


def test_verify_trusts_an_md5_file_only_when_it_is_newer(tmp_path, live_server):
    client = Client(tmp_path, SERVER_URL=live_server.url, SYNCAPP_TOKEN=live_server.token)
    archive = unique_archive(client.backup_dir / "FULL", "FULL")
    client.ok("upload.sh", "md5-cache", str(archive))
    md5_file = archive.with_name(archive.name + ".md5")
    md5_file.write_text(f"{'0' * 32}  {archive.name}\n")

    now = time.time_ns()
    os.utime(archive, ns=(now, now))
    os.utime(md5_file, ns=(now + 10**9, now + 10**9))  # newer: trusted, wrongly here
    assert client.run("verify_sync.sh").returncode == 1

    os.utime(md5_file, ns=(now - 10**9, now - 10**9))  # older: the archive is hashed again
    assert client.run("verify_sync.sh").returncode == 0


def test_a_wrong_token_fails_with_the_servers_message(tmp_path, live_server):
    wrong = "sa_" + "x" * 43
    refusal = requests.get(
        f"{live_server.url}/list", headers={"Authorization": f"Bearer {wrong}"}, timeout=30
    )
    assert refusal.status_code == 401
    message = refusal.json()["message"]

    client = Client(tmp_path, SERVER_URL=live_server.url, SYNCAPP_TOKEN=wrong)
    archive = unique_archive(client.backup_dir / "FULL", "FULL")
    result = client.run("upload.sh", "wrong-token", "--all")
    assert result.returncode == 3
    assert message in result.stderr
    assert ("FULL", archive.name) not in listed(live_server)

    host = live_server.url.removeprefix("http://")
    verify = client.run(
        "verify_sync.sh", SERVER_URL=f"http://backup:{wrong}@{host}", SYNCAPP_TOKEN=""
    )
    assert verify.returncode == 3
    assert message in verify.stderr and wrong not in verify.stderr


def test_an_unreachable_server_has_its_own_exit_status(tmp_path):
    client = Client(tmp_path, SERVER_URL=f"http://127.0.0.1:{free_port()}")
    unique_archive(client.backup_dir / "FULL", "FULL")
    for script, args in (("verify_sync.sh", ()), ("upload.sh", ("p", "--all"))):
        result = client.run(script, *args)
        assert result.returncode == 2, result.stderr
        assert "cannot reach the backup server" in result.stderr


def test_twenty_concurrent_uploads_all_land_intact(tmp_path, live_server):
    client = Client(tmp_path, SERVER_URL=live_server.url, SYNCAPP_TOKEN=live_server.token)
    archives = [
        unique_archive(client.backup_dir / "FULL", "FULL", size=256 * 1024 + i) for i in range(20)
    ]
    processes = [
        subprocess.Popen(
            [str(SCRIPTS / "upload.sh"), "parallel", str(path)],
            cwd=tmp_path,
            env=client.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for path in archives
    ]
    outputs = [process.communicate(timeout=120)[0] for process in processes]
    assert [p.returncode for p in processes] == [0] * 20, outputs
    on_server = listed(live_server)
    for path in archives:
        item = on_server[("FULL", path.name)]
        assert item["md5"] == md5_of(path) and item["size"] == path.stat().st_size


# --- backup.sh on its own ------------------------------------------------------------------------


def test_names_stay_unique_within_one_second(tmp_path):
    """Five backups at once, all in the same second (a `date` that always says so)."""
    clock = tmp_path / "clock"
    clock.mkdir()
    (clock / "date").write_text("#!/bin/sh\necho 2025-11-21_09-07-19\n")
    (clock / "date").chmod(0o755)
    client = Client(tmp_path, PATH=f"{clock}:{os.environ['PATH']}")
    source = make_source(tmp_path / "source")
    processes = [
        subprocess.Popen(
            [str(SCRIPTS / "backup.sh"), f"profile{i}", str(source)],
            cwd=tmp_path,
            env=client.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for i in range(5)
    ]
    outputs = [process.communicate(timeout=120)[0] for process in processes]
    assert [p.returncode for p in processes] == [0] * 5, outputs
    names = {path.name for path in client.archives("FULL")}
    assert names == {"full_2025-11-21_09-07-19.tar.gz"} | {
        f"full_2025-11-21_09-07-19_{n}.tar.gz" for n in range(2, 6)
    }
    assert all(
        members(path) == {"./a.txt", "./b.txt", "./c.txt"} for path in client.archives("FULL")
    )
    assert not list((client.backup_dir / "FULL").glob(".*"))  # no work folder left behind


def test_inc_and_diff_need_a_full_first(tmp_path):
    client = Client(tmp_path)
    source = make_source(tmp_path / "source")
    for kind in ("INC", "DIFF"):
        result = client.run("backup.sh", "fresh", str(source), kind)
        assert result.returncode == 1
        assert "no FULL backup of profile 'fresh' yet" in result.stderr
    assert client.archives("INC") == client.archives("DIFF") == []


def test_the_backup_folder_is_not_archived_when_inside_the_source(tmp_path):
    source = make_source(tmp_path / "home")
    client = Client(tmp_path, BACKUP_DIR=str(source / "backup"))
    client.ok("backup.sh", "home", str(source))
    client.ok("backup.sh", "home", str(source))
    assert [members(path) for path in client.archives("FULL")] == [
        {"./a.txt", "./b.txt", "./c.txt"}
    ] * 2


def test_usage(tmp_path):
    client = Client(tmp_path)
    for script in ("backup.sh", "upload.sh", "verify_sync.sh"):
        assert client.ok(script, "-h").startswith(f"Usage: {script}")
        assert client.run(script, "--no-such-option", "x", "y", "z").returncode == 64
