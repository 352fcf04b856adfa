"""Jobs and clients of other users for the monitoring tests."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import bearer, make_token, make_user
from tests.syncs.helpers import grant_folders


def client_of(app, email: str, role: str = "user"):
    """A test client carrying a token of a new user (or administrator), granted the app's sync
    roots (shared roots are for administrators only)."""
    make_user(app, email, role=role)
    grant_folders(app, email, *app.config["SYNCAPP"]["sync"]["allowed_roots"])
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = bearer(make_token(app, email))["Authorization"]
    return client


def make_job(client, root: Path, name: str, **fields) -> dict:
    """A job copying root/<name>/src to root/<name>/dst, both created."""
    (root / name / "src").mkdir(parents=True, exist_ok=True)
    (root / name / "dst").mkdir(parents=True, exist_ok=True)
    body = {
        "name": name,
        "source_path": str(root / name / "src"),
        "destination_path": str(root / name / "dst"),
        **fields,
    }
    reply = client.post("/api/v1/syncs", json=body)
    assert reply.status_code == 201, reply.json
    return reply.json
