"""Connection pools per database: a SQLite file keeps its connections, a server's are pinged."""

from __future__ import annotations

from syncapp import engine_options
from syncapp.config import Seconds
from syncapp.extensions import db

DATABASE = {"pool_size": 10, "max_overflow": 20, "pool_timeout": Seconds(30)}


def test_a_sqlite_file_keeps_every_connection_it_opens_and_pings_none():
    options = engine_options("sqlite:////srv/syncapp/instance/syncapp.db", DATABASE)
    assert options == {"pool_size": 30, "max_overflow": 0, "pool_timeout": 30.0}


def test_an_in_memory_sqlite_gets_no_pool_arguments():
    for url in ("sqlite://", "sqlite:///:memory:"):
        assert engine_options(url, DATABASE) == {"pool_pre_ping": True}


def test_postgresql_connections_are_pinged_and_sized_by_the_settings():
    options = engine_options("postgresql+psycopg://syncapp@db/syncapp", DATABASE)
    assert options == {
        "pool_pre_ping": True,
        "pool_size": 10,
        "max_overflow": 20,
        "pool_timeout": 30.0,
    }


def test_the_app_builds_its_engine_with_these_options(make_app):
    with make_app().app_context():
        sqlite = db.engine.dialect.name == "sqlite"
        assert db.engine.pool.size() == (30 if sqlite else 10)
        assert db.engine.pool._pre_ping is not sqlite
