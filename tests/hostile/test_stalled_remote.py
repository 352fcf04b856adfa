"""Issue 18, item 3: a destination that accepts and never answers must not take the database
from anyone. The pool is held at one connection; while the background destination check waits
on the stalled server, a user's request still gets that connection."""

from __future__ import annotations

import socket
import threading

from syncapp.auth.accounts import find_user
from syncapp.monitoring.checks import DestinationWatch
from syncapp.remotes.catalog import create_remote
from tests.conftest import bearer, make_token, make_user
from tests.peers.process import free_port
from tests.syncs.helpers import grant_folders

ONE_CONNECTION = {"pool_size": 1, "max_overflow": 0, "pool_timeout": 2}


def stalled_job(make_app, tmp_path) -> tuple:
    """An app with a pool of one connection and ana's job syncing to a WebDAV server that
    accepts connections and never answers; (app, ana's client, the stalled listener)."""
    root = tmp_path / "roots"
    (root / "src").mkdir(parents=True)
    (root / "src" / "a.txt").write_text("a")
    app = make_app(
        sync={"allowed_roots": [str(root)]},
        transfer={"attempts": 1},
        SQLALCHEMY_ENGINE_OPTIONS=ONE_CONNECTION,
    )
    make_user(app, "ana@example.com")
    grant_folders(app, "ana@example.com", root)
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = bearer(make_token(app, "ana@example.com"))[
        "Authorization"
    ]
    stalled = socket.create_server(("127.0.0.1", free_port()))  # accepts, never answers
    stalled.settimeout(30)
    url = f"http://127.0.0.1:{stalled.getsockname()[1]}/dav"
    with app.app_context():
        ana = find_user("ana@example.com").id
        create_remote(
            "nas", "webdav", {"url": url, "username": "a", "password": "b"},
            [{"user_id": ana, "feature": "syncs"}],
        )  # fmt: skip
    body = {"name": "j", "source_path": str(root / "src"), "destination_remote": "nas",
            "destination_path": "d"}  # fmt: skip
    created = client.post("/api/v1/syncs", json=body)
    assert created.status_code == 201
    return app, client, stalled, created.get_json()["id"]


def users_get_the_connection(client) -> None:
    listed = client.get("/api/v1/syncs")
    assert listed.status_code == 200, listed.get_json()
    health = client.get("/api/v1/health")
    assert health.status_code == 200, health.get_json()


def test_a_stalled_destination_holds_no_database_connection(make_app, tmp_path):
    app, client, stalled, _ = stalled_job(make_app, tmp_path)
    check = threading.Thread(target=DestinationWatch.of(app).refresh, daemon=True)
    check.start()
    probe, _ = stalled.accept()  # the check is now waiting on the stalled server
    try:
        users_get_the_connection(client)
    finally:
        probe.close()
        stalled.close()
    check.join(30)
    assert not check.is_alive()
    [job] = client.get("/api/v1/health").get_json()["checks"]["sync_destinations"]["jobs"]
    assert job["status"] == "error"


def test_a_sync_run_waiting_on_a_stalled_destination_holds_no_connection(make_app, tmp_path):
    from syncapp.syncs.runner import run_now

    app, client, stalled, job_id = stalled_job(make_app, tmp_path)

    def run() -> None:
        with app.app_context():
            run_now(job_id)

    runner = threading.Thread(target=run, daemon=True)
    runner.start()
    peer, _ = stalled.accept()  # the run is now waiting on the stalled server
    try:
        users_get_the_connection(client)
    finally:
        peer.close()
        stalled.close()
    runner.join(60)
    assert not runner.is_alive()
