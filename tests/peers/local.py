"""The local backend needs no server: a temporary folder is its peer."""

from __future__ import annotations

import pytest

from syncapp.storage import open_remote
from syncapp.storage.local import ConfinedLocalRemote


@pytest.fixture
def local_remote(tmp_path):
    return open_remote("local", root=str(tmp_path / "local-remote"))


@pytest.fixture
def local_confined_remote(tmp_path):
    """The confined mode sync jobs use: a folder opened beneath its root, links not followed."""
    root = tmp_path / "confined-root"
    (root / "job-folder").mkdir(parents=True)
    remote = ConfinedLocalRemote.open(str(root), "job-folder")
    yield remote
    remote.close()
