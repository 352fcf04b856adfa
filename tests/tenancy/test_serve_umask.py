"""Attack 10: `scripts/serve` left the database, documents and snapshots world-readable (0644
files, 0755 folders): any account on the machine could read every user's data.

The real scripts/serve runs here, from a copy of the project whose .venv is this one (already
installed: nothing is downloaded), started from a shell with the usual umask 022. Everything it
and the server it starts make (the instance folder, secret_key, the database, the log, the
stores and what an upload puts in them) must be for the server's account alone.
"""

from __future__ import annotations

import io
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.backups.helpers import make_archive
from tests.peers.databases import suite_database_url
from tests.peers.process import ServerProcess, free_port

PROJECT = Path(__file__).resolve().parents[2]
#: what scripts/serve needs of the project, besides its .venv
PROJECT_FILES = ("app.py", "syncapp", "migrations", "deploy", "templates", "static")


def project_copy(base: Path) -> Path:
    """A project folder made of links to this one, with a .venv that ensure_venv accepts as
    installed (the same interpreter and packages as this test run)."""
    copy = base / "project"
    (copy / "scripts").mkdir(parents=True)
    for name in PROJECT_FILES:
        (copy / name).symlink_to(PROJECT / name)
    for requirements in PROJECT.glob("requirements*.txt"):
        (copy / requirements.name).symlink_to(requirements)
    for script in ("serve", "venv.sh"):
        (copy / "scripts" / script).symlink_to(PROJECT / "scripts" / script)
    (copy / ".venv").mkdir()
    (copy / ".venv" / "bin").symlink_to(Path(sys.executable).parent)
    # The stamp ensure_venv compares, computed by the same shell command it uses.
    stamp = subprocess.run(
        ["bash", "-c", "cat requirements*.txt | sha256sum | cut -d' ' -f1"],
        cwd=copy, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    (copy / ".venv" / ".installed-requirements.txt").write_text(stamp)
    return copy


def shared_with_others(root: Path) -> list[str]:
    """Everything under `root` (itself included) that its group or other accounts may use."""
    found = []
    for path in [root, *root.rglob("*")]:
        mode = stat.S_IMODE(path.lstat().st_mode)
        if not path.is_symlink() and mode & 0o077:
            found.append(f"{path.relative_to(root.parent)} {oct(mode)}")
    return found


def printed_token(output: Path) -> str:
    """The API token the first start printed for the operator. Their terminal is a log file
    here, which tests/secret_scan.py checks: the token is masked in it once read (in place, the
    same length: the server keeps appending to the file)."""
    printed = output.read_bytes()
    found = re.search(rb"API token:\s+(sa_\S+)", printed)
    assert found, printed[-2000:]
    with output.open("r+b") as handle:
        handle.seek(found.start(1))
        handle.write(b"*" * len(found.group(1)))
    return found.group(1).decode()


@pytest.fixture
def served(tmp_path):
    """scripts/serve started as an operator would, from a shell with umask 022."""
    copy = project_copy(tmp_path)
    port = free_port()
    env = dict(
        HOST="127.0.0.1",
        PORT=str(port),
        SYNCAPP_INSTANCE_PATH=str(tmp_path / "instance"),
        SYNCAPP_BACKUPS_ROOT=str(tmp_path / "remote_backups"),
        SYNCAPP_SERVER_THREADS="8",
    )
    database = suite_database_url(f"serve:{tmp_path}", per_test=True)
    if database:  # the PostgreSQL pass: a schema of its own; the files are the rest
        env["DATABASE_URL"] = database
    url = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        try:
            return requests.get(f"{url}/api/v1/health", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    server = ServerProcess(
        "serve", [str(copy / "scripts" / "serve")], ready=healthy, log_dir=tmp_path,
        env=env, cwd=copy, timeout=120,
    )  # fmt: skip
    previous = os.umask(0o022)  # the shell the operator starts it from
    try:
        server.start()
    finally:
        os.umask(previous)
    token = printed_token(server.log_path)
    yield url, {"Authorization": f"Bearer {token}"}, tmp_path, not database
    server.stop()


def test_what_scripts_serve_makes_is_private(served):
    url, headers, base, on_sqlite = served
    uploads = [
        ("/api/v1/documents", {"type": "invoice"}, "payslip.pdf", b"%PDF salary", 201),
        ("/api/v1/upload", {}, "report.pdf", b"quarterly report", 202),
        ("/upload", {"type": "FULL", "profile": "home"}, "full_2026-12-08_02-00-00.tar.gz",
         make_archive(7), 201),
    ]  # fmt: skip
    for path, fields, name, data, status in uploads:
        reply = requests.post(
            url + path, headers=headers, data=fields, files={"file": (name, io.BytesIO(data))},
            timeout=30,
        )  # fmt: skip
        assert reply.status_code == status, reply.text

    instance, backups = base / "instance", base / "remote_backups"
    made = {p.relative_to(base).as_posix() for p in [*instance.rglob("*"), *backups.rglob("*")]}
    expected = {"instance/secret_key", "instance/syncapp.log", "instance/documents",
                "instance/cloud", "remote_backups/FULL"}  # fmt: skip
    if on_sqlite:
        expected.add("instance/syncapp.db")
    assert expected <= made, sorted(made)
    stored = [p for p in made if p.startswith(("instance/documents/", "instance/cloud/"))]
    assert any(p.endswith(".pdf") for p in stored), stored  # the uploads are on disk
    assert shared_with_others(instance) == []
    assert shared_with_others(backups) == []
