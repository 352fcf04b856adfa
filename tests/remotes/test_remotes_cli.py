"""`flask remotes create|list|test`: stored remotes provided at deploy time, without a browser,
and a feature store (backups.remote) that uses one on a real S3 server (moto)."""

from __future__ import annotations

import io
import json

from syncapp.extensions import db
from syncapp.remotes import catalog
from syncapp.remotes.models import StoredRemote
from tests.backups.helpers import make_archive, md5
from tests.conftest import make_token, make_user
from tests.peers.s3 import admin_client, empty_prefix


def s3_env(settings: dict, prefix: str = "deploy") -> dict[str, str]:
    """The S3 server's settings as a deployment's environment would carry them."""
    return {
        "STORE_BUCKET": settings["bucket"],
        "STORE_ENDPOINT_URL": settings["endpoint_url"],
        "STORE_REGION": settings["region"],
        "STORE_ACCESS_KEY_ID": settings["access_key_id"],
        "STORE_SECRET_ACCESS_KEY": settings["secret_access_key"],
        "STORE_PREFIX": prefix,
    }


def run(app, *args: str, env: dict[str, str] | None = None, input: str | None = None):
    return app.test_cli_runner().invoke(args=["remotes", *args], env=env, input=input)


def stored(app, name: str) -> tuple[dict, dict]:
    with app.app_context():
        remote = catalog.find_remote(name)
        assert remote is not None
        return dict(remote.settings), catalog.secrets_of(remote)


def test_create_from_the_environment_keeps_the_secret_encrypted(app, s3_server):
    env = s3_env(s3_server.settings)
    result = run(app, "create", "store", "--kind", "s3", "--env-prefix", "STORE_", env=env)
    assert result.exit_code == 0, result.output
    assert "created remote store (s3" in result.output
    settings, secrets = stored(app, "store")
    assert settings["bucket"] == s3_server.settings["bucket"] and settings["prefix"] == "deploy"
    assert "secret_access_key" not in settings
    assert secrets == {"secret_access_key": s3_server.settings["secret_access_key"]}
    with app.app_context():
        row = catalog.find_remote("store")
        assert s3_server.settings["secret_access_key"] not in (row.secrets_encrypted or "")
    listed = run(app, "list")
    assert "store\ts3" in listed.output and "secret_access_key=***" in listed.output
    assert s3_server.settings["secret_access_key"] not in listed.output
    probe = run(app, "test", "store")
    assert probe.exit_code == 0, probe.output


def test_a_second_create_fails_unless_update_and_update_keeps_untold_secrets(app, s3_server):
    env = s3_env(s3_server.settings)
    assert (
        run(app, "create", "store", "--kind", "s3", "--env-prefix", "STORE_", env=env).exit_code
        == 0
    )
    again = run(app, "create", "store", "--kind", "s3", "--env-prefix", "STORE_", env=env)
    assert again.exit_code == 1 and "exists already" in again.output
    # A redeploy that changes the prefix and gives the secret only through the old value.
    without_secret = {k: v for k, v in env.items() if k != "STORE_SECRET_ACCESS_KEY"}
    args = ("create", "store", "--kind", "s3", "--env-prefix", "STORE_", "--set", "prefix=v2")
    updated = run(app, *args, "--update", env=without_secret)
    assert updated.exit_code == 0, updated.output
    settings, secrets = stored(app, "store")
    assert settings["prefix"] == "v2"
    assert secrets == {"secret_access_key": s3_server.settings["secret_access_key"]}
    other_kind = run(app, "create", "store", "--kind", "local", "--set", "root=/tmp", "--update")
    assert other_kind.exit_code == 1 and "of kind s3" in other_kind.output


def test_settings_file_from_stdin_and_bad_input_change_nothing(app, tmp_path):
    folder = tmp_path / "store"
    good = run(app, "create", "disk", "--kind", "local", "--settings-file", "-",
               input=json.dumps({"root": str(folder)}))  # fmt: skip
    assert good.exit_code == 0, good.output
    assert stored(app, "disk")[0] == {"root": str(folder)}
    for args in (
        ("create", "bad", "--kind", "local", "--set", "root"),  # not KEY=VALUE
        ("create", "bad", "--kind", "local", "--set", "rot=/tmp"),  # unknown setting
        ("create", "bad", "--kind", "nope", "--set", "root=/tmp"),  # unknown kind
        ("create", "bad", "--kind", "s3", "--set", "prefix=x"),  # bucket missing
    ):
        result = run(app, *args)
        assert result.exit_code != 0, args
    with app.app_context():
        assert [r.name for r in db.session.query(StoredRemote)] == ["disk"]
    missing = run(app, "test", "nothing")
    assert missing.exit_code == 1 and "no stored remote" in missing.output


def test_backups_land_on_the_s3_remote_the_cli_created(make_app, s3_server):
    """The deploy path end to end: remote made by the CLI, backups.remote names it, an upload
    goes to the S3 server (read back there by MD5)."""
    prefix = "cli-backups"
    app = make_app(backups={"remote": "archives"})
    env = s3_env(s3_server.settings, prefix=prefix)
    result = run(app, "create", "archives", "--kind", "s3", "--env-prefix", "STORE_", env=env)
    assert result.exit_code == 0, result.output
    make_user(app, "ops@example.com", role="admin")
    token = make_token(app, "ops@example.com")
    data = make_archive(41, size=200_000)
    try:
        response = app.test_client().post(
            "/upload",
            headers={"Authorization": f"Bearer {token}"},
            data={"file": (io.BytesIO(data), "full_41.tar.gz"), "type": "FULL"},
            content_type="multipart/form-data",
        )
        assert response.status_code == 201, response.get_json()
        client = admin_client(s3_server.settings)
        try:
            body = client.get_object(
                Bucket=s3_server.settings["bucket"], Key=f"{prefix}/FULL/full_41.tar.gz"
            )["Body"].read()
        finally:
            client.close()
        assert md5(body) == md5(data)
    finally:
        empty_prefix(s3_server.settings, prefix + "/")
