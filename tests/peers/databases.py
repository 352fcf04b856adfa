"""PostgreSQL and Redis: the machine runs both; tests get a throwaway database of each.

With DATABASE_URL naming PostgreSQL (scripts/test's second pass), every app the tests build
(make_settings, LiveServer) gets a fresh schema of its own on that server instead of a SQLite
file: see suite_database_url.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import pytest

from tests.peers.process import peer_missing, port_open, worker_index

POSTGRES_ADMIN_URL = os.environ.get(
    "SYNCAPP_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("SYNCAPP_TEST_REDIS", "redis://127.0.0.1:6379")

#: The whole suite's database server, when DATABASE_URL names PostgreSQL; the tests never use
#: that database itself, only schemas (or databases) they create on it and drop afterwards.
SUITE_POSTGRES_URL = (
    os.environ.get("DATABASE_URL", "")
    if os.environ.get("DATABASE_URL", "").startswith(("postgresql://", "postgres://"))
    else ""
)
#: "schema" (default): a schema per app in DATABASE_URL's database, reached through search_path;
#: "database": a database per app. Measured on this machine: creating and dropping a schema takes
#: ~1 ms, a database ~65 ms; 68 app tests (test_migrations, test_config, tests/auth) took 76 s
#: with schemas, 109 s with databases (56 s on SQLite; a busy machine). The isolation is the same:
#: the only database-wide state the app uses, the scheduler's advisory lock, is keyed by schema.
ISOLATION = os.environ.get("SYNCAPP_TEST_POSTGRES_ISOLATION", "schema")


#: Test files that never build an app or open a database: the storage backends, transfers and
#: the multipart parser, against their real servers. scripts/test's PostgreSQL pass leaves them
#: out (SYNCAPP_TEST_SKIP_DATABASE_FREE=1), as they would run exactly as in the SQLite pass;
#: tests/test_suite_database.py checks that none of them uses an app fixture or the app factory.
DATABASE_FREE = (
    "tests/storage",
    "tests/test_import_contract.py",
    "tests/test_multipart.py",
    "tests/test_storage_conformance.py",
    "tests/test_transfer.py",
)


def pytest_ignore_collect(collection_path, config) -> bool | None:
    if not (SUITE_POSTGRES_URL and os.environ.get("SYNCAPP_TEST_SKIP_DATABASE_FREE") == "1"):
        return None
    try:
        relative = collection_path.relative_to(config.rootpath).as_posix()
    except ValueError:  # outside the project
        return None
    return True if relative in DATABASE_FREE else None


@dataclass
class _Scratch:
    server: str
    isolation: str
    name: str
    url: str
    per_test: bool  # dropped when the test that made it ends; else at the end of the session
    #: Set for a schema made with the app's tables (suite_database_with_tables): what its tables,
    #: columns, indexes and sequences were then. Emptied and reused while they are the same.
    layout: str = ""


_scratch: dict[str, _Scratch] = {}
#: Schemas with the app's tables, emptied, for the next suite_database_with_tables.
_emptied: list[_Scratch] = []


def _with_params(url: str, **params: str) -> str:
    parts = urlsplit(url)
    query = [*parse_qsl(parts.query), *params.items()]
    return urlunsplit(parts._replace(query=urlencode(query, quote_via=quote)))  # space: %20


def create_scratch(server_url: str, isolation: str) -> tuple[str, str]:
    """A new, empty schema or database on `server_url`: (its name, a URL that uses it)."""
    import psycopg

    name = f"syncapp_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        if isolation == "database":
            conn.execute(f'CREATE DATABASE "{name}"')
        else:
            conn.execute(f'CREATE SCHEMA "{name}"')
    # application_name marks the app's connections, so that a test's leftovers can be closed.
    # synchronous_commit=off: a commit does not wait for the WAL's fsync (~8 ms each here, a
    # test makes dozens); the server still never shows a transaction half done, and only a
    # crash of PostgreSQL itself, which no test causes, would lose the last few.
    options = "-csynchronous_commit=off"
    if isolation == "database":
        parts = urlsplit(server_url)
        url = urlunsplit(parts._replace(path=f"/{name}"))
        return name, _with_params(url, options=options, application_name=name)
    options = f"-csearch_path={name} {options}"
    return name, _with_params(server_url, options=options, application_name=name)


def drop_scratch(server_url: str, name: str, isolation: str) -> None:
    """Drop a schema or database made by create_scratch, closing connections still open on it
    (an app a test did not dispose of would otherwise hold its locks, and a server slot)."""
    import psycopg

    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
            (name,),
        )
        if isolation == "database":
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        else:
            conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


#: Scopes of the fixtures being set up right now, innermost last.
_setting_up: list[str] = []


@pytest.hookimpl(wrapper=True)
def pytest_fixture_setup(fixturedef, request):
    # A module- or session-scoped fixture's app must keep its database beyond the current test.
    _setting_up.append(fixturedef.scope)
    try:
        return (yield)
    finally:
        _setting_up.pop()


def suite_database_url(key: str, *, per_test: bool | None = None) -> str | None:
    """The database URL for the app identified by `key` (e.g. its SQLite file's path), or None
    when the suite runs on SQLite. The same key gives the same database until it is dropped, as
    the same SQLite file would. It is dropped when the test ends, unless per_test is False or it
    is made while a longer-lived fixture is set up: then at the end of the session."""
    if not SUITE_POSTGRES_URL:
        return None
    if per_test is None:
        per_test = all(scope == "function" for scope in _setting_up)
    if key not in _scratch:
        import psycopg

        try:
            name, url = create_scratch(SUITE_POSTGRES_URL, ISOLATION)
        except psycopg.OperationalError as exc:
            peer_missing(f"PostgreSQL (DATABASE_URL) not reachable: {exc}")
        _scratch[key] = _Scratch(SUITE_POSTGRES_URL, ISOLATION, name, url, per_test)
    return _scratch[key].url


def suite_database_with_tables(key: str, create_tables: Callable[[str], None]) -> bool:
    """suite_database_url for an app that needs the app's tables (make_app): True when the
    database for `key` is new and has them now, without create_all. On PostgreSQL (schema
    isolation, for one test) it is a schema a test before emptied, or a new one given its tables
    by create_tables(url); False otherwise, and the caller makes the tables as before."""
    per_test = all(scope == "function" for scope in _setting_up)
    if not SUITE_POSTGRES_URL or ISOLATION != "schema" or key in _scratch or not per_test:
        return False
    if _emptied:
        _scratch[key] = _emptied.pop()
        return True
    url = suite_database_url(key)
    create_tables(url)
    scratch = _scratch[key]
    with _connect(scratch.server) as conn:
        scratch.layout = _layout(conn, scratch.name)
    return True


def _connect(url: str):
    import psycopg

    return psycopg.connect(url, autocommit=True)


def _layout(conn, schema: str) -> str:
    """A digest of a schema's relations (tables, indexes, sequences) and columns."""
    relations = conn.execute(
        "SELECT string_agg(relname::text || ':' || relkind::text, ',' ORDER BY relname)"
        " FROM pg_class WHERE relnamespace = %s::regnamespace",
        (schema,),
    ).fetchone()[0]
    columns = conn.execute(
        "SELECT string_agg(concat_ws(':', table_name, column_name, data_type, column_default,"
        " is_nullable), ',' ORDER BY table_name, column_name)"
        " FROM information_schema.columns WHERE table_schema = %s",
        (schema,),
    ).fetchone()[0]
    return f"{relations}|{columns}"


def _empty(scratch: _Scratch) -> bool:
    """Empty a schema made with the app's tables for the next test: every row gone, sequences
    back at their start, as in a new one. False (and left as it is) if a test changed its layout."""
    with _connect(scratch.server) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
            (scratch.name,),
        )
        if _layout(conn, scratch.name) != scratch.layout:
            return False
        tables = conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = %s", (scratch.name,)
        ).fetchall()
        sequences = conn.execute(
            "SELECT sequencename FROM pg_sequences WHERE schemaname = %s", (scratch.name,)
        ).fetchall()
        # DELETE and ALTER SEQUENCE ... RESTART, not TRUNCATE ... RESTART IDENTITY: TRUNCATE
        # gives each of the ~30 tables and their indexes new files, 1.2 s per test on this
        # machine against 0.03 s (the tables hold a test's few rows). Every table is emptied,
        # so the foreign keys' triggers are switched off (replica) rather than ordered.
        statements = [
            "SET LOCAL session_replication_role = replica",
            *(f'DELETE FROM "{scratch.name}"."{table}"' for (table,) in tables),
            *(f'ALTER SEQUENCE "{scratch.name}"."{sequence}" RESTART' for (sequence,) in sequences),
        ]
        with conn.transaction():
            conn.execute("; ".join(statements))
    return True


def _emptied_for_reuse(scratch: _Scratch) -> bool:
    import psycopg

    try:
        return _empty(scratch)
    except psycopg.Error:  # dropped instead, as any other schema
        return False


def _drop(keys: list[str]) -> None:
    for key in keys:
        scratch = _scratch.pop(key)
        if scratch.layout and scratch.per_test and _emptied_for_reuse(scratch):
            _emptied.append(scratch)
        else:
            drop_scratch(scratch.server, scratch.name, scratch.isolation)


@pytest.fixture(autouse=True)
def _drop_test_databases() -> Iterator[None]:
    """Drops what suite_database_url made for this test (autouse: set up first, torn down last,
    after make_app has disposed of its engines)."""
    yield
    _drop([key for key, scratch in _scratch.items() if scratch.per_test])


@pytest.fixture(scope="session", autouse=True)
def _drop_session_databases() -> Iterator[None]:
    yield
    _drop(list(_scratch))
    while _emptied:
        scratch = _emptied.pop()
        drop_scratch(scratch.server, scratch.name, scratch.isolation)


@pytest.fixture(scope="session")
def postgres_server() -> str:
    import psycopg

    try:
        with psycopg.connect(POSTGRES_ADMIN_URL, connect_timeout=5) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        peer_missing(f"PostgreSQL not reachable at {POSTGRES_ADMIN_URL}: {exc}")
    return POSTGRES_ADMIN_URL


@pytest.fixture
def postgres_url(postgres_server):
    """A new, empty database for one test; dropped afterwards."""
    import psycopg

    name = f"syncapp_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = postgres_server.rsplit("/", 1)[0]
    yield f"{base}/{name}"
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def redis_server() -> str:
    host_port = REDIS_URL.split("://", 1)[1].split("/", 1)[0]
    host, _, port = host_port.partition(":")
    if not port_open(int(port or 6379), host):
        peer_missing(f"Redis not reachable at {REDIS_URL}")
    return REDIS_URL


def redis_database(first: int) -> int:
    """Redis database `first` plus the pytest-xdist worker's number: each worker flushes only
    its own (Redis has 16; 4 workers fit in each range the suite uses)."""
    worker = worker_index()
    if worker >= 4:
        raise RuntimeError("the Redis fixtures give each of at most 4 xdist workers a database")
    return first + worker


@pytest.fixture
def redis_url(redis_server):
    """A Redis database number of its own (flushed before and after) for one test."""
    import redis

    url = f"{redis_server}/{redis_database(12)}"
    client = redis.Redis.from_url(url)
    client.flushdb()
    yield url
    client.flushdb()
    client.close()
