"""Migrations build the schema the models describe, on SQLite and on PostgreSQL."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect

from syncapp import create_app
from syncapp.extensions import db
from tests.conftest import make_settings, sqlite_url


def migrate_and_compare(app) -> list:
    with app.app_context():
        upgrade()
        tables = set(inspect(db.engine).get_table_names())
        with db.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            differences = compare_metadata(context, db.metadata)
        downgrade(revision="base")
        remaining = set(inspect(db.engine).get_table_names()) - {"alembic_version"}
        upgrade()
        db.engine.dispose()
    assert {"users", "api_tokens", "remotes"} <= tables
    assert remaining == set(), "downgrade to base must remove every table"
    return differences


def test_migrations_apply_on_sqlite(tmp_path):
    app = create_app(make_settings(tmp_path, database={"url": sqlite_url(tmp_path)}))
    assert migrate_and_compare(app) == []


@pytest.mark.peer
def test_migrations_apply_on_postgresql(tmp_path, postgres_url):
    app = create_app(make_settings(tmp_path, database={"url": postgres_url}))
    assert app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql+psycopg://")
    assert migrate_and_compare(app) == []
