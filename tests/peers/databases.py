"""PostgreSQL and Redis: the machine runs both; tests get a throwaway database of each."""

from __future__ import annotations

import os
import uuid

import pytest

from tests.peers.process import peer_missing, port_open

POSTGRES_ADMIN_URL = os.environ.get(
    "SYNCAPP_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("SYNCAPP_TEST_REDIS", "redis://127.0.0.1:6379")


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


@pytest.fixture
def redis_url(redis_server):
    """A Redis database number of its own (flushed before and after) for one test."""
    import redis

    url = f"{redis_server}/13"
    client = redis.Redis.from_url(url)
    client.flushdb()
    yield url
    client.flushdb()
    client.close()
