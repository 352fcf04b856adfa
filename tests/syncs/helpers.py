"""Sync job fixtures: an app whose allowed root is a temp folder granted to the test user, and a
way to make trees."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from syncapp.auth.models import User
from syncapp.extensions import db
from syncapp.storage.mounts import MARKER
from tests.conftest import bearer, make_token, make_user


def write_tree(root: Path, files: dict[str, bytes]) -> None:
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def tree_digests(root: Path) -> dict[str, str]:
    """rel path -> MD5 of every regular file below root (syncapp temp files included, so a
    leftover would show; the share marker a job writes into its destination left out)."""
    found = {}
    for folder, _, names in os.walk(root):
        for name in names:
            path = Path(folder) / name
            found[path.relative_to(root).as_posix()] = hashlib.md5(path.read_bytes()).hexdigest()
    found.pop(MARKER, None)
    return found


def grant_folders(app, email: str, *folders: Path) -> None:
    """What an administrator does with PATCH /api/v1/users/<id> {"sync_roots": [...]}."""
    with app.app_context():
        user = db.session.query(User).filter_by(email=email).one()
        user.sync_roots = [str(folder) for folder in folders]
        db.session.commit()


@pytest.fixture
def sync_root(tmp_path) -> Path:
    root = tmp_path / "roots"
    (root / "src").mkdir(parents=True)
    (root / "dst").mkdir()
    return root


@pytest.fixture
def sync_app(make_app, sync_root):
    return make_app(
        sync={"allowed_roots": [str(sync_root)], "batch_size": 3},
        transfer={"attempts": 2, "base_delay": 0.01, "max_delay": 0.05},
    )


@pytest.fixture
def sync_client(sync_app, sync_root):
    make_user(sync_app, "ana@example.com")
    grant_folders(sync_app, "ana@example.com", sync_root)  # a shared root is for admins only
    token = make_token(sync_app, "ana@example.com")
    client = sync_app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = bearer(token)["Authorization"]
    return client
