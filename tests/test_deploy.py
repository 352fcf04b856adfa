"""The deployment files, checked as far as this machine can (no Docker engine, no compose):
the container's entrypoint run for real on PostgreSQL + an S3 server, the compose file's
structure and settings, its nginx rendering, and the systemd unit."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import requests
import yaml

from syncapp.config import load_settings
from tests.peers.process import ServerProcess, free_port, peer_missing
from tests.peers.s3 import empty_prefix

PROJECT = Path(__file__).resolve().parent.parent
DEPLOY = PROJECT / "deploy"
BIN = Path(sys.executable).parent


def env_example() -> dict[str, str]:
    values = {}
    for line in (DEPLOY / ".env.example").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's ${VAR}, ${VAR:-default} and ${VAR:?error} (enough for our file); $$ is $."""

    def value(match: re.Match) -> str:
        name, op, arg = match.group(1), match.group(2), match.group(3)
        if env.get(name):
            return env[name]
        if op == ":-":
            return arg
        raise KeyError(f"{name} is required: {arg}")

    text = re.sub(r"\$\{(\w+)(?:(:-|:\?)([^}]*))?\}", value, text.replace("$$", "\0"))
    return text.replace("\0", "$")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(interpolate((DEPLOY / "docker-compose.yml").read_text(), env_example()))


def test_compose_requires_its_secrets():
    with pytest.raises(KeyError, match="SECRET_KEY"):
        interpolate((DEPLOY / "docker-compose.yml").read_text(), {})


def test_compose_services_reference_what_exists(compose):
    services = compose["services"]
    assert {"db", "redis", "s3", "migrate", "app1", "app2", "nginx"} <= set(services)
    for name, service in services.items():
        for dependency in service.get("depends_on", {}):
            assert dependency in services, (name, dependency)
            assert dependency != name
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if not source.startswith("."):
                assert source in compose["volumes"], (name, source)
    # Only nginx is reachable from outside; the apps are behind it.
    assert [n for n, s in services.items() if s.get("ports")] == ["nginx"]
    assert services["app1"]["depends_on"]["migrate"]["condition"] == (
        "service_completed_successfully"
    )
    assert services["migrate"]["command"] == ["migrate"]


def test_compose_app_environment_is_valid_syncapp_configuration(compose):
    """Every SYNCAPP_* name and value in the apps' environment is a setting syncapp accepts
    (an unknown key or a wrong type would stop start-up), and the stores are all on S3."""
    for name in ("app1", "app2", "migrate"):
        env = {k: str(v) for k, v in compose["services"][name]["environment"].items()}
        settings = load_settings(environ=env)
        assert settings["database"]["url"].startswith("postgresql://syncapp:")
        assert settings["socketio"]["message_queue"] == "redis://redis:6379/0"
        assert settings["server"]["trusted_proxies"] == 1
        stores = env["SYNCAPP_S3_STORES"].split()
        for store in ("backups", "cordiax", "documents", "cloud"):
            assert settings[store]["remote"] == f"s3-{store}" and store in stores


def test_compose_nginx_renders_both_apps_as_upstreams(compose, tmp_path):
    """The sed in the nginx service, run on deploy/nginx.conf: both apps, ip_hash kept."""
    command = compose["services"]["nginx"]["command"][0]
    script = re.search(r"sed (-e '.*?')\s", command, re.S).group(1)
    rendered = subprocess.run(
        f"sed {script} {DEPLOY / 'nginx.conf'}",
        shell=True,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    upstream = re.search(r"upstream syncapp \{(.*?)\}", rendered, re.S).group(1)
    servers = re.findall(r"^\s*server (\S+);", upstream, re.M)
    assert servers == ["app1:5000", "app2:5000"]
    assert "ip_hash;" in upstream


def test_the_systemd_unit_verifies(tmp_path):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        peer_missing("systemd-analyze not found")
    # The unit as installed, with this checkout standing in for /opt/syncapp.
    unit = tmp_path / "syncapp.service"
    text = (DEPLOY / "syncapp.service").read_text().replace("/opt/syncapp", str(PROJECT))
    unit.write_text(re.sub(r"^(User|Group)=syncapp$", r"\1=root", text, flags=re.M))
    result = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True)
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr
    for required in ("ExecStartPre=", "Restart=on-failure", "NoNewPrivileges=yes",
                     "ProtectSystem=strict", "ReadWritePaths=", "EnvironmentFile="):  # fmt: skip
        assert required in text


@pytest.mark.e2e
def test_the_container_entrypoint_migrates_provides_remotes_and_serves(
    tmp_path, postgres_url, redis_url, s3_server
):
    """deploy/entrypoint.sh as the container runs it (PATH = the venv), on PostgreSQL, Redis and
    the S3 server: `migrate` twice (idempotent), then `serve` answers /api/v1/health and keeps
    an uploaded backup on the S3 store the entrypoint provided."""
    s3 = s3_server.settings
    port = free_port()
    prefix = f"entrypoint-{port}"
    env = {
        "PATH": f"{BIN}:{os.environ['PATH']}",
        "SECRET_KEY": "entrypoint-test-secret",
        "DATABASE_URL": postgres_url,
        "SOCKETIO_MESSAGE_QUEUE": redis_url,
        "SYNCAPP_INSTANCE_PATH": str(tmp_path / "instance"),
        "SYNCAPP_LOGGING_FILE": "",
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "SYNCAPP_SERVER_THREADS": "32",
        "SYNCAPP_S3_STORES": f"{prefix}-backups {prefix}-cordiax",
        "SYNCAPP_BACKUPS_REMOTE": f"s3-{prefix}-backups",
        "SYNCAPP_CORDIAX_REMOTE": f"s3-{prefix}-cordiax",
        "S3_BUCKET": s3["bucket"],
        "S3_ENDPOINT_URL": s3["endpoint_url"],
        "S3_REGION": s3["region"],
        "S3_ACCESS_KEY_ID": s3["access_key_id"],
        "S3_SECRET_ACCESS_KEY": s3["secret_access_key"],
    }
    entrypoint = str(DEPLOY / "entrypoint.sh")

    def migrate() -> str:
        done = subprocess.run(
            [entrypoint, "migrate"],
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=180,
            cwd=tmp_path,  # the script finds the code by its own location
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    first = migrate()
    assert "created remote s3-" in first and "API token:" in first
    token = first.split("API token:")[1].split()[0]
    second = migrate()
    assert "updated remote s3-" in second and "API token" not in second

    def healthy() -> bool:
        try:
            return requests.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=2).ok
        except requests.RequestException:
            return False

    server = ServerProcess(
        "entrypoint", [entrypoint, "serve"], ready=healthy, log_dir=tmp_path,
        env={**env, "SYNCAPP_MIGRATE": "false"}, cwd=tmp_path,
    )  # fmt: skip
    server.start()
    try:
        data = b"\x1f\x8b" + os.urandom(4096)
        reply = requests.post(
            f"http://127.0.0.1:{port}/upload",
            headers={"Authorization": f"Bearer {token}"},
            files={"file": ("full_1.tar.gz", data)},
            data={"type": "FULL"},
            timeout=30,
        )
        assert reply.status_code == 201, reply.text
        from tests.peers.s3 import admin_client

        client = admin_client(s3)
        try:
            key = f"{prefix}-backups/FULL/full_1.tar.gz"
            assert client.get_object(Bucket=s3["bucket"], Key=key)["Body"].read() == data
        finally:
            client.close()
    finally:
        server.stop()
        empty_prefix(s3, f"{prefix}-backups/")
