"""Shared fixtures: an app on a fresh database per test, users, tokens, a live server.

The database is a SQLite file in tmp_path, or, when DATABASE_URL names PostgreSQL, a fresh
schema on that server (tests/peers/databases.py), dropped when the test ends.

Real-server fixtures live in tests/peers/ and are loaded as plugins.
"""

from __future__ import annotations

import shutil
from functools import cache
from pathlib import Path
from unittest.mock import patch

import pytest
from werkzeug.security import generate_password_hash

from syncapp import create_app
from syncapp.auth import models
from syncapp.auth.accounts import create_user
from syncapp.extensions import db
from syncapp.security import issue_token
from tests.peers import PEER_PLUGINS

pytest_plugins = [*PEER_PLUGINS, "tests.live", "tests.secret_scan"]  # secret_scan: H5

PASSWORD = "correct horse battery"


def sqlite_url(tmp_path) -> str:
    """The SQLite file make_settings uses when DATABASE_URL is not PostgreSQL; for tests about
    SQLite itself, whatever the suite runs on."""
    return f"sqlite:///{tmp_path / 'test.db'}"


def make_settings(tmp_path, **sections) -> dict:
    """Overrides for create_app that keep everything inside tmp_path (or, on PostgreSQL, in a
    schema of its own: the same tmp_path gives the same database, as the same file would)."""
    # Imported here: at module level it would load the plugin before pytest can rewrite it.
    from tests.peers.databases import suite_database_url

    database = suite_database_url(str(tmp_path / "test.db")) or sqlite_url(tmp_path)
    return _settings(tmp_path, database, **sections)


def _settings(tmp_path, database: str, /, **sections) -> dict:
    overrides = {
        "instance_path": str(tmp_path / "instance"),
        "database": {"url": database},
        "logging": {"file": str(tmp_path / "syncapp.log"), "level": "DEBUG"},
        "security": {"secret_key": "test-secret-key-not-for-production"},
        "backups": {"root": str(tmp_path / "remote_backups")},
        # the notification receivers run on 127.0.0.1 (tests/peers/notify.py); the tests of the
        # default (public addresses only) turn it off (tests/notifications/test_private_networks.py)
        "notifications": {"allow_private_networks": True},
        "TESTING": True,
    }
    for name, values in sections.items():
        if isinstance(values, dict):
            overrides[name] = {**overrides.get(name, {}), **values}
        else:
            overrides[name] = values
    return overrides


def _create_tables(workdir: Path, database: str) -> None:
    """The app's tables in `database`, made as make_app made them for every app before."""
    app = create_app(_settings(workdir, database))
    with app.app_context():
        db.create_all()
        db.session.remove()
        db.engine.dispose()


_sqlite_tables: Path | None = None


def _tables_made(tmp_path, tmp_path_factory) -> bool:
    """Give tmp_path's database the app's tables without create_all, if it is new: a copy of a
    SQLite file made once per session (per xdist worker), or on PostgreSQL a schema that has
    them, emptied by the test that used it before (tests/peers/databases.py). create_all took
    ~40 ms per app on SQLite, and 0.1-0.8 s on PostgreSQL plus ~0.1-0.3 s for the drop."""
    global _sqlite_tables
    from tests.peers.databases import SUITE_POSTGRES_URL, suite_database_with_tables

    if SUITE_POSTGRES_URL:
        return suite_database_with_tables(
            str(tmp_path / "test.db"),
            lambda url: _create_tables(tmp_path_factory.mktemp("tables"), url),
        )
    target = tmp_path / "test.db"
    if target.exists():
        return False
    if _sqlite_tables is None:
        workdir = tmp_path_factory.mktemp("tables")
        _create_tables(workdir, sqlite_url(workdir))
        _sqlite_tables = workdir / "test.db"
    shutil.copyfile(_sqlite_tables, target)
    return True


@pytest.fixture
def make_app(tmp_path, tmp_path_factory):
    """Build an app with extra settings: make_app(security={"registration_enabled": True})."""
    apps = []

    def factory(**sections):
        database = sections.get("database")
        own_url = isinstance(database, dict) and "url" in database
        made = not own_url and _tables_made(tmp_path, tmp_path_factory)
        app = create_app(make_settings(tmp_path, **sections))
        if not made:
            with app.app_context():
                db.create_all()
        apps.append(app)
        return app

    yield factory
    # The gzip checks an upload queued (syncapp/backups/integrity.py) end before the database
    # and the store they read go away.
    from syncapp.backups.integrity import wait_idle
    from syncapp.monitoring.checks import stop_destination_watch

    wait_idle()
    for app in apps:
        # An app built without TESTING checks its sync destinations in a thread of its own: it
        # ends here, before its database goes (it logged "destination checks failed" after).
        stop_destination_watch(app)
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def client(app):
    return app.test_client()


@cache
def _password_hash(password: str) -> str:
    return generate_password_hash(password)


def make_user(app, email: str, role: str = "user"):
    """A user with PASSWORD, made by create_user. The hash of PASSWORD is made once per process
    (per xdist worker) and given to every such user: a real scrypt hash, checked at sign-in as
    any other, but each one took 0.1-0.5 s of a test's setup (over a thousand a pass)."""
    with app.app_context(), patch.object(models, "generate_password_hash", _password_hash):
        user = create_user(email, PASSWORD, role=role, full_name=email.split("@")[0])
        return user.id


def make_token(app, email: str, name: str = "test") -> str:
    from syncapp.auth.accounts import find_user

    with app.app_context():
        _, raw = issue_token(find_user(email), name)
        return raw


@pytest.fixture
def user(app):
    make_user(app, "alice@example.com")
    return "alice@example.com"


@pytest.fixture
def admin(app):
    make_user(app, "root@example.com", role="admin")
    return "root@example.com"


@pytest.fixture
def token(app, user) -> str:
    return make_token(app, user)


@pytest.fixture
def admin_token(app, admin) -> str:
    return make_token(app, admin)


def bearer(raw: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {raw}"}
