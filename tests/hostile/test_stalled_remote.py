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


def test_a_stalled_destination_holds_no_database_connection(make_app, tmp_path):
    root = tmp_path / "roots"
    (root / "src").mkdir(parents=True)
    app = make_app(sync={"allowed_roots": [str(root)]}, SQLALCHEMY_ENGINE_OPTIONS=ONE_CONNECTION)
    make_user(app, "ana@example.com")
    grant_folders(app, "ana@example.com", root)
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = bearer(make_token(app, "ana@example.com"))[
        "Authorization"
    ]
    stalled = socket.create_server(("127.0.0.1", free_port()))  # accepts, never answers
    url = f"http://127.0.0.1:{stalled.getsockname()[1]}/dav"
    with app.app_context():
        ana = find_user("ana@example.com").id
        create_remote(
            "nas", "webdav", {"url": url, "username": "a", "password": "b"},
            [{"user_id": ana, "feature": "syncs"}],
        )  # fmt: skip
    body = {"name": "j", "source_path": str(root / "src"), "destination_remote": "nas",
            "destination_path": "d"}  # fmt: skip
    assert client.post("/api/v1/syncs", json=body).status_code == 201

    check = threading.Thread(target=DestinationWatch.of(app).refresh, daemon=True)
    check.start()
    stalled.settimeout(30)
    probe, _ = stalled.accept()  # the check is now waiting on the stalled server
    try:
        listed = client.get("/api/v1/syncs")
        assert listed.status_code == 200, listed.get_json()
        health = client.get("/api/v1/health")
        assert health.status_code == 200, health.get_json()
    finally:
        probe.close()
        stalled.close()
    check.join(30)
    assert not check.is_alive()
    [job] = client.get("/api/v1/health").get_json()["checks"]["sync_destinations"]["jobs"]
    assert job["status"] == "error"
