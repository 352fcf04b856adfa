"""A backend registered in `storage.BACKENDS` comes with its part of docs/architecture.md's
"add a storage backend" checklist: this fails for the item that is missing."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from syncapp.storage import BACKENDS, Remote, remote_class
from syncapp.web.remote_forms import KIND_LABELS
from tests import test_storage_conformance, test_transfer
from tests.peers import PEER_PLUGINS

ROOT = Path(__file__).resolve().parents[2]
KINDS = sorted(BACKENDS)


def transfer_kinds(cls: type[Remote]) -> list[str]:
    """The kind itself, and those of the backends it builds on (gcs is the s3 backend with
    fixed settings: copies to and from it are s3's)."""
    return [base.kind for base in cls.__mro__ if "kind" in vars(base)]


@pytest.mark.parametrize("kind", KINDS)
def test_the_backend_runs_the_conformance_and_transfer_suites(kind):
    assert kind in test_storage_conformance.BACKENDS
    assert set(transfer_kinds(remote_class(kind))) & set(test_transfer.BACKENDS)


@pytest.mark.parametrize("kind", KINDS)
def test_the_backend_has_a_peer_fixture(kind):
    fixture = f"{kind}_remote"
    modules = [importlib.import_module(name) for name in PEER_PLUGINS]
    assert any(hasattr(module, fixture) for module in modules), (
        f"no {fixture} fixture in tests/peers (PEER_PLUGINS)"
    )


@pytest.mark.parametrize("kind", KINDS)
def test_the_backend_has_its_form_label_its_tests_and_its_package(kind):
    assert kind in KIND_LABELS  # syncapp/web/remote_forms.py
    assert list((ROOT / "tests" / "storage").glob(f"test_{kind}*.py"))
    package = BACKENDS[kind][2]
    if package is not None:
        pinned = (ROOT / "requirements.txt").read_text().lower().splitlines()
        assert any(line.startswith(f"{package.lower()}==") for line in pinned)


@pytest.mark.parametrize("kind", KINDS)
def test_declared_capabilities_are_implemented(kind):
    """A backend that says it renames overrides `move`; one that says it copies on the server
    implements `_server_copy` (which `Remote.move` then uses)."""
    cls = remote_class(kind)
    if cls.capabilities.move:
        assert cls.move is not Remote.move
    if cls.capabilities.copy:
        assert cls._server_copy is not Remote._server_copy
    assert cls.capabilities.hashes <= {"md5"}  # the only checksum the contract knows
