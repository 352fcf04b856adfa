"""The app under gunicorn in a subprocess, started the way scripts/serve starts it."""

from __future__ import annotations

import json
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


#: Runs flask commands (a JSON list of argument lists) in one process with the app of app.py, as
#: `flask --app app` would; prints a JSON list of {code, output}, stopping at the first failure.
_BATCH = """
import json, sys, traceback
from app import app
runner, outputs = app.test_cli_runner(), []
for args in json.loads(sys.argv[1]):
    result = runner.invoke(args=args)
    output = result.stdout  # only that, as flask() returns
    if result.exit_code != 0:
        output += result.stderr + "".join(traceback.format_exception(result.exception))
    outputs.append({"code": result.exit_code, "output": output})
    if result.exit_code != 0:
        break
print(json.dumps(outputs))
"""


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

    def flask_batch(self, *commands: list[str]) -> list[str]:
        """Several `flask` commands in one process, in order: each `flask` process spends seconds
        importing and building the app on a loaded machine. The output of each; an error like
        flask()'s if one fails (the rest are not run)."""
        result = subprocess.run(
            [str(BIN / "python"), "-c", _BATCH, json.dumps(commands)],
            cwd=PROJECT,
            env={**os.environ, **self.env},
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        outputs = json.loads(result.stdout.splitlines()[-1]) if result.returncode == 0 else None
        if not outputs or len(outputs) < len(commands) or outputs[-1]["code"] != 0:
            raise RuntimeError(f"flask batch {commands} failed:\n{result.stdout}{result.stderr}")
        return [output["output"] for output in outputs]

    def prepare(self, *users: tuple[str, str], token: str = "t") -> list[str]:
        """`flask db upgrade`, then an admin and a token for it, and the `users` given as (email,
        password) with a token named `token` each (all in one process); the users' tokens."""
        admin = ["--email", "live@example.com"]
        admin_token, *tokens = self.flask_batch(
            ["db", "upgrade"],
            ["users", "create", *admin, "--password", "live-password-123", "--role", "admin"],
            ["tokens", "create", *admin, "--name", "live"],
            *_user_commands(users, "user", token),
        )[2::2]
        self.token = admin_token.strip().splitlines()[-1]
        return [created.strip().splitlines()[-1] for created in tokens]

    def add_users(self, *users: tuple[str, str], role: str = "user", token: str = "t") -> list[str]:
        """Users given as (email, password), each with a token named `token`, in one `flask`
        process (each process spends seconds building the app); their tokens."""
        outputs = self.flask_batch(*_user_commands(users, role, token))
        return [created.strip().splitlines()[-1] for created in outputs[1::2]]

    def add_user(self, email: str, password: str, *, role: str = "user", token: str = "t") -> str:
        """A user and a token named `token` for them, in one `flask` process; the token."""
        [created] = self.add_users((email, password), role=role, token=token)
        return created

    def create_user(self, email: str, password: str) -> dict:
        """A user of its own, made by the administrator through the running server's API (no
        `flask` process); the user's JSON."""
        created = requests.post(
            f"{self.url}/api/v1/users",
            json={"email": email, "password": password},
            headers=self.headers,
            timeout=30,
        )
        assert created.status_code == 201, created.text
        return created.json()

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


def _user_commands(users: tuple[tuple[str, str], ...], role: str, token: str) -> list[list[str]]:
    """flask commands that create each (email, password) user, then a token named `token`."""
    commands = []
    for email, password in users:
        commands.append(
            ["users", "create", "--email", email, "--password", password, "--role", role]
        )
        commands.append(["tokens", "create", "--email", email, "--name", token])
    return commands


@pytest.fixture(scope="session")
def live_server(tmp_path_factory):
    server = LiveServer(tmp_path_factory.mktemp("live"))
    server.prepare()
    server.start()
    yield server
    server.stop()
