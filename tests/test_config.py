"""Settings: defaults < config.yaml < environment < overrides, and loud failures for bad keys."""

from __future__ import annotations

import os
import stat

import pytest

from syncapp import create_app
from syncapp.config import ConfigError, load_settings, parse_size
from tests.conftest import make_settings


def write_config(tmp_path, text: str) -> dict[str, str]:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return {"SYNCAPP_CONFIG": str(path)}


def test_defaults_apply_without_a_config_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = load_settings(environ={})
    assert settings["server"]["port"] == 5000
    assert settings["server"]["threads"] == 512
    assert settings["security"]["registration_enabled"] is False


def test_yaml_overrides_defaults_and_environment_overrides_yaml(tmp_path):
    environ = write_config(tmp_path, "server:\n  port: 8000\nlogging:\n  max_size: 10MB\n")
    settings = load_settings(environ=environ)
    assert settings["server"]["port"] == 8000
    assert settings["logging"]["max_size"] == 10_000_000
    settings = load_settings(environ={**environ, "SYNCAPP_SERVER_PORT": "9000", "PORT": "7000"})
    assert settings["server"]["port"] == 9000  # the specific name beats the short alias


def test_seed_environment_names_are_honoured(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = load_settings(
        environ={"DATABASE_URL": "postgresql://db/x", "SECRET_KEY": "s3", "LOG_LEVEL": "debug"}
    )
    assert settings["database"]["url"] == "postgresql://db/x"
    assert settings["security"]["secret_key"] == "s3"
    assert settings["logging"]["level"] == "debug"


def test_overrides_beat_everything(tmp_path):
    environ = write_config(tmp_path, "server:\n  port: 8000\n")
    settings = load_settings({"server": {"port": 1234}}, environ=environ)
    assert settings["server"]["port"] == 1234


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("server:\n  hots: x\n", "server.hots"),
        ("serverr:\n  host: x\n", "serverr"),
        ("server:\n  port: eighty\n", "server.port"),
        ("security:\n  enable_auth: maybe\n", "security.enable_auth"),
        ("logging:\n  max_size: lots\n", "logging.max_size"),
    ],
)
def test_a_bad_key_or_type_names_the_key(tmp_path, text, named):
    with pytest.raises(ConfigError, match=named.replace(".", r"\.")):
        load_settings(environ=write_config(tmp_path, text))


def test_seed_000_enable_auth_false_stops_start_up_with_the_reason(tmp_path, monkeypatch):
    # seed 000's config.yaml, as written there
    text = "security:\n  enable_auth: false\n  api_key: your-secret-key\n"
    monkeypatch.setenv("SYNCAPP_CONFIG", write_config(tmp_path, text)["SYNCAPP_CONFIG"])
    with pytest.raises(ConfigError) as refused:
        create_app(make_settings(tmp_path))
    reason = str(refused.value)
    assert "security.enable_auth: false' is not supported" in reason
    assert "security.api_key" in reason and "X-API-Key" in reason  # what to do instead
    monkeypatch.setenv("SYNCAPP_SECURITY_ENABLE_AUTH", "true")  # the environment overrides it
    create_app(make_settings(tmp_path))


def test_a_bad_config_file_stops_app_start_up(tmp_path, monkeypatch):
    monkeypatch.setenv(
        "SYNCAPP_CONFIG", write_config(tmp_path, "sync:\n  intervall: 5\n")["SYNCAPP_CONFIG"]
    )
    with pytest.raises(ConfigError, match=r"sync\.intervall"):
        create_app(make_settings(tmp_path))


def test_a_bad_environment_value_names_the_variable_key(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match=r"server\.threads"):
        load_settings(environ={"SYNCAPP_SERVER_THREADS": "many"})


def test_sizes_are_parsed():
    assert parse_size("500MB") == 500_000_000
    assert parse_size("1GiB") == 1024**3
    assert parse_size(42) == 42
    with pytest.raises(ValueError):
        parse_size("12 parsecs")


def test_create_app_takes_overrides(tmp_path):
    app = create_app(make_settings(tmp_path, server={"threads": 32}, SOME_FLAG="yes"))
    assert app.config["SYNCAPP"]["server"]["threads"] == 32
    assert app.config["SOME_FLAG"] == "yes"
    assert app.config["TESTING"] is True


def test_unknown_override_section_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="nonsense"):
        create_app(make_settings(tmp_path, nonsense={"a": 1}))


def test_secret_key_is_generated_once_with_private_mode(tmp_path):
    overrides = make_settings(tmp_path)
    overrides["security"] = {"secret_key": None}
    first = create_app(overrides)
    key_file = tmp_path / "instance" / "secret_key"
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    second = create_app(overrides)
    assert first.config["SECRET_KEY"] == second.config["SECRET_KEY"]
    assert len(first.config["SECRET_KEY"]) >= 32


def test_default_database_is_sqlite_in_wal_mode(tmp_path):
    from sqlalchemy import text

    from syncapp.extensions import db

    overrides = make_settings(tmp_path)
    overrides["database"] = {"url": None}
    app = create_app(overrides)
    assert app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///")
    assert str(tmp_path / "instance") in app.config["SQLALCHEMY_DATABASE_URI"]
    with app.app_context():
        assert db.session.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        db.engine.dispose()
