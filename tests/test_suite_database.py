"""The suite's own database isolation (tests/peers/databases.py): with DATABASE_URL on PostgreSQL,
each app gets a fresh schema (or database) that no other test sees, dropped afterwards."""

from __future__ import annotations

import ast
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.exc import OperationalError

from tests.conftest import make_settings, sqlite_url
from tests.peers import databases
from tests.peers.databases import create_scratch, drop_scratch

pytestmark = pytest.mark.peer


def engine_for(url: str):
    return create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))


def exists(server: str, name: str) -> bool:
    with psycopg.connect(server) as conn:
        query = (
            "SELECT 1 FROM pg_namespace WHERE nspname = %s UNION ALL "
            "SELECT 1 FROM pg_database WHERE datname = %s"
        )
        return conn.execute(query, (name, name)).fetchone() is not None


@pytest.mark.parametrize("isolation", ["schema", "database"])
def test_scratches_do_not_see_each_other_and_drop_despite_open_transactions(
    postgres_server, isolation
):
    first_name, first_url = create_scratch(postgres_server, isolation)
    second_name, second_url = create_scratch(postgres_server, isolation)
    first, second = engine_for(first_url), engine_for(second_url)
    try:
        with first.begin() as conn:
            conn.execute(text("CREATE TABLE users (id integer)"))
            conn.execute(text("INSERT INTO users VALUES (1)"))
        assert inspect(first).get_table_names() == ["users"]
        assert inspect(second).get_table_names() == []
        # A test that forgot its app: a connection idle in a transaction that holds a lock.
        forgotten = first.connect()
        forgotten.execute(text("LOCK TABLE users"))
        drop_scratch(postgres_server, first_name, isolation)
        assert not exists(postgres_server, first_name)
        with pytest.raises(OperationalError):
            forgotten.execute(text("SELECT 1"))
        forgotten.invalidate()
        assert exists(postgres_server, second_name)
    finally:
        first.dispose()
        second.dispose()
        drop_scratch(postgres_server, second_name, isolation)
    assert not exists(postgres_server, second_name)


def test_make_settings_gives_each_tmp_path_its_own_schema_on_postgresql(
    tmp_path, postgres_server, monkeypatch
):
    monkeypatch.setattr(databases, "SUITE_POSTGRES_URL", postgres_server)
    monkeypatch.setattr(databases, "ISOLATION", "schema")
    url = make_settings(tmp_path)["database"]["url"]
    assert url.startswith("postgresql://") and "search_path" in url
    with psycopg.connect(url) as conn:  # the schema's own, and commits without the WAL's fsync
        [name] = [s.name for s in databases._scratch.values() if s.url == url]
        assert conn.execute("SHOW search_path").fetchone()[0] == name
        assert conn.execute("SHOW synchronous_commit").fetchone()[0] == "off"
    assert make_settings(tmp_path)["database"]["url"] == url  # same folder, same database
    other = make_settings(tmp_path / "other")["database"]["url"]
    assert other != url
    names = [s.name for s in databases._scratch.values() if s.url in (url, other)]
    assert len(names) == 2 and all(exists(postgres_server, name) for name in names)
    # What the per-test fixture does when the test ends.
    databases._drop([key for key, s in databases._scratch.items() if s.url in (url, other)])
    assert not any(exists(postgres_server, name) for name in names)


def test_make_settings_uses_a_sqlite_file_without_postgresql(tmp_path, monkeypatch):
    monkeypatch.setattr(databases, "SUITE_POSTGRES_URL", "")
    assert make_settings(tmp_path)["database"]["url"] == sqlite_url(tmp_path)


#: The fixtures and names through which a test gets an app, and so a database.
APP_FIXTURES = {"app", "client", "make_app", "user", "admin", "token", "admin_token",
                "live_server", "postgres_url", "postgres_server", "browser_server"}  # fmt: skip
APP_NAMES = {"create_app", "make_settings", "LiveServer", "db", "syncapp.extensions"}


def test_the_files_left_out_of_the_postgresql_pass_never_build_an_app():
    root = Path(__file__).resolve().parent.parent
    files = [
        path
        for entry in databases.DATABASE_FREE
        for path in ([root / entry] if entry.endswith(".py") else (root / entry).rglob("*.py"))
    ]
    assert len(files) >= 4 and all(path.is_file() for path in files)
    for path in files:
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                arguments = {arg.arg for arg in node.args.args + node.args.kwonlyargs}
                assert not arguments & APP_FIXTURES, f"{path}:{node.lineno} {node.name}"
            elif isinstance(node, ast.ImportFrom):
                names = {alias.name for alias in node.names} | {node.module or ""}
                assert not names & APP_NAMES, f"{path}:{node.lineno} imports {names & APP_NAMES}"
            elif isinstance(node, ast.Name | ast.Attribute):
                name = node.id if isinstance(node, ast.Name) else node.attr
                assert name not in {"create_app", "make_settings", "LiveServer", "app_context"}, (
                    f"{path}:{node.lineno} uses {name}"
                )


def test_only_the_postgresql_pass_of_scripts_test_leaves_them_out(monkeypatch, pytestconfig):
    root = pytestconfig.rootpath

    def ignored(relative: str) -> bool:
        return databases.pytest_ignore_collect(root / relative, pytestconfig) is True

    monkeypatch.setattr(databases, "SUITE_POSTGRES_URL", "postgresql://somewhere/db")
    monkeypatch.setenv("SYNCAPP_TEST_SKIP_DATABASE_FREE", "1")
    assert ignored("tests/storage") and ignored("tests/test_multipart.py")
    assert not ignored("tests/syncs") and not ignored("tests/test_migrations.py")
    monkeypatch.delenv("SYNCAPP_TEST_SKIP_DATABASE_FREE")
    assert not ignored("tests/storage")
    monkeypatch.setenv("SYNCAPP_TEST_SKIP_DATABASE_FREE", "1")
    monkeypatch.setattr(databases, "SUITE_POSTGRES_URL", "")  # the SQLite pass runs everything
    assert not ignored("tests/storage")


def _on_postgres(server: str, folder: Path) -> str:
    """make_settings(folder)'s database URL, as if DATABASE_URL named `server`."""
    saved = databases.SUITE_POSTGRES_URL, databases.ISOLATION
    databases.SUITE_POSTGRES_URL, databases.ISOLATION = server, "schema"
    try:
        return make_settings(folder)["database"]["url"]
    finally:
        databases.SUITE_POSTGRES_URL, databases.ISOLATION = saved


@pytest.fixture(scope="module")
def module_app_url(postgres_server, tmp_path_factory) -> str:
    return _on_postgres(postgres_server, tmp_path_factory.mktemp("module-app"))


@pytest.fixture
def test_app_url(postgres_server, tmp_path) -> str:
    return _on_postgres(postgres_server, tmp_path)


def test_a_module_fixtures_database_outlives_the_test(module_app_url, test_app_url):
    lifetimes = {s.url: s.per_test for s in databases._scratch.values()}
    assert lifetimes[module_app_url] is False  # kept until the session ends
    assert lifetimes[test_app_url] is True  # dropped when this test ends


def test_a_value_postgresql_refuses_is_a_400_envelope_not_a_500(make_app, postgres_url):
    """A NUL character (PostgreSQL text cannot hold one; SQLite just finds nothing) in a lookup."""
    from tests.conftest import bearer, make_token, make_user

    app = make_app(database={"url": postgres_url})
    make_user(app, "root@example.com", role="admin")
    token = make_token(app, "root@example.com")
    response = app.test_client().get("/api/v1/status/x%00", headers=bearer(token))
    assert response.status_code == 400
    assert response.get_json()["status"] == "error"
    assert response.get_json()["error"] == "invalid_value"


def _app_with_tables(folder: Path, tmp_path_factory):
    """What make_app does for `folder`, without its teardown."""
    from syncapp import create_app
    from tests.conftest import _tables_made

    assert _tables_made(folder, tmp_path_factory) is True  # new: tables made without create_all
    return create_app(make_settings(folder))


def _dispose(app) -> None:
    from syncapp.extensions import db

    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_make_app_on_sqlite_copies_a_file_that_has_the_tables(tmp_path, tmp_path_factory,
                                                                monkeypatch):  # fmt: skip
    from tests.conftest import _tables_made, make_user

    monkeypatch.setattr(databases, "SUITE_POSTGRES_URL", "")
    app = _app_with_tables(tmp_path, tmp_path_factory)
    assert make_user(app, "a@example.com") == 1
    _dispose(app)
    assert _tables_made(tmp_path, tmp_path_factory) is False  # exists: left as it is
    assert make_user(app, "b@example.com") == 2


def test_a_schema_with_the_app_tables_is_emptied_for_the_next_test_unless_its_layout_changed(
    tmp_path, tmp_path_factory, postgres_server, monkeypatch
):
    from tests.conftest import make_token, make_user

    monkeypatch.setattr(databases, "SUITE_POSTGRES_URL", postgres_server)
    monkeypatch.setattr(databases, "ISOLATION", "schema")
    monkeypatch.setattr(databases, "_emptied", [])  # this test's own, not the suite's
    names = []
    try:
        first = _app_with_tables(tmp_path / "first", tmp_path_factory)
        [key] = [k for k in databases._scratch if k.startswith(str(tmp_path / "first"))]
        names.append(databases._scratch[key].name)
        assert make_user(first, "a@example.com") == 1
        make_user(first, "b@example.com")
        make_token(first, "b@example.com")  # a row that refers to another table's
        _dispose(first)
        databases._drop([key])  # what the per-test fixture does when the test ends
        assert exists(postgres_server, names[0])  # kept, emptied

        second = _app_with_tables(tmp_path / "second", tmp_path_factory)
        [key] = [k for k in databases._scratch if k.startswith(str(tmp_path / "second"))]
        assert databases._scratch[key].name == names[0]  # the same schema, reused
        with engine_for(databases._scratch[key].url).connect() as conn:
            tables = inspect(conn).get_table_names()
            assert "api_tokens" in tables
            counts = {t: conn.execute(text(f'SELECT count(*) FROM "{t}"')).scalar() for t in tables}
        assert set(counts.values()) == {0}, counts  # every table emptied
        assert make_user(second, "a@example.com") == 1  # no rows, identities back at 1
        with engine_for(databases._scratch[key].url).connect() as conn:
            conn.execute(text("CREATE TABLE extra (id integer)"))
            conn.commit()
        _dispose(second)
        databases._drop([key])
        assert not exists(postgres_server, names[0])  # a changed layout: dropped
        assert databases._emptied == []
    finally:
        for name in names:
            drop_scratch(postgres_server, name, "schema")
