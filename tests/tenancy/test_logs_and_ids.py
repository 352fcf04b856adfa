"""Attack 9: SQLite handed B's new job the id of A's deleted job, and with it A's log lines
(file names included) through GET /api/v1/logs?job=<id>.

Two fixes, each proven here: ids are never handed out again (AUTOINCREMENT, on a migrated
database and on one made by create_all), and log records carry their owner, so that even an id
shared by two jobs could not show one user the other's records.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from flask_migrate import upgrade
from sqlalchemy import inspect, text

from syncapp import create_app
from syncapp.auth.accounts import create_user
from syncapp.auth.models import User
from syncapp.extensions import db
from syncapp.syncs.models import SyncJob
from tests.conftest import PASSWORD, make_settings
from tests.peers.process import wait_until
from tests.tenancy.conftest import Tenant, Tenants, unique

# --- ids are never handed out again ------------------------------------------------------------


@pytest.fixture(params=["migrated", "create_all"])
def any_schema(request, tmp_path, make_app):
    """An app whose tables were made by the migrations, or by create_all (as the tests do)."""
    if request.param == "create_all":
        yield make_app()
        return
    app = create_app(make_settings(tmp_path))
    with app.app_context():
        upgrade()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def _job(owner_id: int, name: str) -> SyncJob:
    job = SyncJob(owner_id=owner_id, name=name, source_path="/src", destination_path="/dst")
    db.session.add(job)
    db.session.commit()
    return job


def test_a_deleted_rows_id_is_not_handed_out_again(any_schema):
    with any_schema.app_context():
        alice = create_user("alice-ids@example.com", PASSWORD)
        bob = create_user("bob-ids@example.com", PASSWORD)
        alices = _job(alice.id, "alice's")
        gone = alices.id
        db.session.delete(alices)  # the newest row: SQLite without AUTOINCREMENT reuses its id
        db.session.commit()
        assert _job(bob.id, "bob's").id > gone

        carol = create_user("carol-ids@example.com", PASSWORD)
        gone_user = carol.id
        db.session.delete(carol)
        db.session.commit()
        assert create_user("dave-ids@example.com", PASSWORD).id > gone_user
        assert db.session.get(User, gone_user) is None


def test_every_generated_key_never_goes_back(any_schema):
    """Every table whose key the database generates, not only the two above (a row of any of
    them can be named by id in a log line, an event or a URL): AUTOINCREMENT on SQLite, a
    sequence (which never hands a number out twice) on PostgreSQL."""
    with any_schema.app_context():
        generated = [t for t in db.metadata.sorted_tables if t.autoincrement_column is not None]
        assert {"users", "sync_jobs", "documents", "cloud_files"} <= {t.name for t in generated}
        if db.engine.dialect.name == "sqlite":
            tables = text("SELECT name, sql FROM sqlite_master WHERE type = 'table'")
            made = {name: sql for name, sql in db.session.execute(tables)}
            for table in generated:
                assert "AUTOINCREMENT" in made[table.name].upper(), table.name
            return
        schema = inspect(db.engine)
        for table in generated:
            columns = {c["name"]: c for c in schema.get_columns(table.name)}
            key = columns[table.autoincrement_column.name]
            assert key.get("identity") or "nextval(" in str(key.get("default")), table.name


# --- the live attack: B's new job, A's old log lines ---------------------------------------------


def _job_folders(tenants: Tenants, who: Tenant, name: str) -> tuple[Path, Path]:
    """Folders in `who`'s own sync root (the default `instance/sync/users/<id>`)."""
    root = Path(tenants.server.workdir) / "instance" / "sync" / "users" / str(who.id) / name
    (root / "src").mkdir(parents=True)
    (root / "dst").mkdir()
    return root / "src", root / "dst"


def _create_job(tenants: Tenants, who: Tenant, name: str, src: Path, dst: Path) -> int:
    body = {"name": name, "source_path": str(src), "destination_path": str(dst)}
    reply = tenants.call(who, "POST", "/api/v1/syncs", json=body)
    assert reply.status_code == 201, reply.text
    return reply.json()["id"]


def _logs(tenants: Tenants, who: Tenant, **query) -> list[dict]:
    reply = tenants.get(who, "/api/v1/logs", params={"limit": 1000, **query})
    assert reply.status_code == 200, reply.text
    return reply.json()["records"]


def test_b_never_sees_the_log_lines_of_as_deleted_job(tenants: Tenants):
    a, b, admin = tenants.a, tenants.b, tenants.admin
    secret = unique("a-payslip") + ".pdf"
    src, dst = _job_folders(tenants, a, unique("a-job"))
    (src / secret).write_bytes(b"A's salary")
    (dst / secret).mkdir()  # a folder where the copy must go: the run logs the file's name
    a_job = _create_job(tenants, a, unique("a-job"), src, dst)

    def a_run_logged_the_name() -> bool:
        return any(secret in r["message"] for r in _logs(tenants, a, job=a_job))

    wait_until(a_run_logged_the_name, 60, "A's first run to log the file it could not copy")
    assert tenants.call(a, "POST", f"/api/v1/syncs/{a_job}/stop").status_code == 200

    def a_job_deleted() -> bool:
        # a retry may be under way as it stops: the delete is refused (409) until it ends
        status = tenants.call(a, "DELETE", f"/api/v1/syncs/{a_job}").status_code
        assert status in (200, 204, 409), status
        return status != 409

    wait_until(a_job_deleted, 30, "A's stopped job to be deleted")

    b_src, b_dst = _job_folders(tenants, b, unique("b-job"))
    b_job = _create_job(tenants, b, unique("b-job"), b_src, b_dst)
    assert b_job > a_job  # a new id, never the deleted one's

    seen_by_b = tenants.get(b, "/api/v1/logs", params={"limit": 1000}).text
    assert secret not in seen_by_b
    assert all(r.get("owner") == b.id for r in _logs(tenants, b))
    assert all(r.get("job") != a_job for r in _logs(tenants, b))
    refused = tenants.get(b, "/api/v1/logs", params={"job": a_job})
    missing = tenants.get(b, "/api/v1/logs", params={"job": 2**31 - 1})
    assert refused.status_code == missing.status_code == 404
    assert refused.json()["error"] == missing.json()["error"]
    assert secret not in refused.text
    assert all(r["job"] == b_job for r in _logs(tenants, b, job=b_job))

    # A keeps their own history; administrators see everyone's, with the owner named.
    assert any(secret in r["message"] for r in _logs(tenants, a))
    named = [r for r in _logs(tenants, admin, job=a_job) if secret in r["message"]]
    assert named and all(r["owner"] == a.id for r in named)
