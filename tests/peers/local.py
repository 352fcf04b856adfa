"""The local backend needs no server: a temporary folder is its peer."""

from __future__ import annotations

import pytest

from syncapp.storage import open_remote


@pytest.fixture
def local_remote(tmp_path):
    return open_remote("local", root=str(tmp_path / "local-remote"))
