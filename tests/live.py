"""The app under gunicorn in a subprocess, started the way scripts/serve starts it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.peers.databases import suite_database_url
from tests.peers.process import ServerProcess, free_port

PROJECT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


class LiveServer:
    """gunicorn + syncapp on a free port, with its own instance folder, an admin and a token."""

    def __init__(self, workdir: Path, *, threads: int = 64, env: dict[str, str] | None = None):
        self.workdir = workdir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            "SYNCAPP_INSTANCE_PATH": str(workdir / "instance"),
            "SECRET_KEY": "live-server-test-secret",
            "SYNCAPP_LOGGING_FILE": str(workdir / "syncapp.log"),
            "SYNCAPP_BACKUPS_ROOT": str(workdir / "remote_backups"),
            **(env or {}),
        }
        # On PostgreSQL a fresh schema of its own (kept until the session ends: the server may
        # outlive a test); on SQLite, scripts/serve's default file in the instance folder.
        if "DATABASE_URL" not in self.env:
            database = suite_database_url(f"live:{workdir}", per_test=False)
            if database:
                self.env["DATABASE_URL"] = database
        self.threads = threads
        self.process: ServerProcess | None = None
        self.token = ""

    def flask(self, *args: str) -> str:
        result = subprocess.run(
            [str(BIN / "flask"), "--app", "app", *args],
            cwd=PROJECT,
            env={**os.environ, **self.env},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"flask {' '.join(args)} failed:\n{result.stdout}{result.stderr}")
        return result.stdout

    def prepare(self) -> None:
        self.flask("db", "upgrade")
        self.flask(
            "users",
            "create",
            "--email",
            "live@example.com",
            "--password",
            "live-password-123",
            "--role",
            "admin",
        )
        self.token = (
            self.flask("tokens", "create", "--email", "live@example.com", "--name", "live")
            .strip()
            .splitlines()[-1]
        )

    def healthy(self) -> bool:
        try:
            return requests.get(f"{self.url}/api/v1/health", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def start(self) -> LiveServer:
        # The same command line as scripts/serve; address and threads come through the env.
        argv = [str(BIN / "gunicorn"), "--config", "deploy/gunicorn.conf.py", "app:app"]
        env = {
            **self.env,
            "HOST": "127.0.0.1",
            "PORT": str(self.port),
            "SYNCAPP_SERVER_THREADS": str(self.threads),
        }
        self.process = ServerProcess(
            "gunicorn", argv, ready=self.healthy, log_dir=self.workdir, env=env, cwd=PROJECT
        )
        self.process.start()
        return self

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@pytest.fixture(scope="session")
def live_server(tmp_path_factory):
    server = LiveServer(tmp_path_factory.mktemp("live"))
    server.prepare()
    server.start()
    yield server
    server.stop()
