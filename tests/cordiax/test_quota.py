"""Snapshots count towards their user's quota (syncapp/quotas.py): a push that would pass it is
refused with sync_error `quota_exceeded` before anything is written."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from syncapp.auth.models import User
from syncapp.cordiax.snapshots import SnapshotRefused
from syncapp.cordiax.wiring import snapshot_store
from syncapp.extensions import db, socketio
from syncapp.quotas import usage
from tests.conftest import make_token, make_user
from tests.cordiax.payloads import encrypted_database, zip_bundle

CORDIAX = "/cordiax-sync/"


def stored_files(app) -> list[Path]:
    root = Path(app.instance_path) / "cordiax"
    return sorted(p for p in root.rglob("*") if p.is_file())


def set_quota(app, user_id: int, quota: int | None) -> None:
    with app.app_context():
        db.session.get(User, user_id).quota_bytes = quota
        db.session.commit()


@pytest.fixture
def alice(app) -> int:
    return make_user(app, "alice@example.com")


def test_snapshots_count_towards_the_users_usage(app, alice):
    with app.app_context():
        snapshot_store().store(alice, "pc", encrypted_database(3000, seed=1))
        snapshot_store().store(alice, "pc", encrypted_database(2000, seed=2))
        assert usage(db.session, alice)["cordiax"] == 5000


def test_a_push_over_the_users_quota_is_refused_and_nothing_is_written(app, alice):
    set_quota(app, alice, 5000)
    kept = encrypted_database(3000, seed=1)
    with app.app_context():
        store = snapshot_store()
        store.store(alice, "pc", kept)
        before = stored_files(app)
        with pytest.raises(SnapshotRefused) as refused:
            store.store(alice, "pc", encrypted_database(3000, seed=2))
        assert refused.value.code == "quota_exceeded" and "quota" in refused.value.message
        assert stored_files(app) == before
        assert [s.sha256 for s in store.versions(alice, "pc")] == [store.latest(alice, "pc").sha256]
        # the same bytes again add nothing, so they are not refused
        assert store.store(alice, "pc", kept).created is False


def test_a_bundles_extracted_copy_counts_when_it_is_pushed(app, alice):
    bundle = zip_bundle({"cordiax.db": encrypted_database(4000, seed=3)})
    set_quota(app, alice, len(bundle) + 1000)  # the bundle fits, its extracted copy does not
    with app.app_context(), pytest.raises(SnapshotRefused) as refused:
        snapshot_store().store(alice, "office", bundle)
    assert refused.value.code == "quota_exceeded"
    assert stored_files(app) == []


@contextmanager
def cordiax_connection(app, token: str, device: str) -> Iterator[Callable[[bytes], tuple]]:
    """An in-process Cordiax connection: push(data) -> (the answer, the sync_errors heard)."""
    client = socketio.test_client(
        app, namespace=CORDIAX, query_string=f"token={token}&device={device}"
    )
    assert client.is_connected(CORDIAX)

    def push(data: bytes) -> tuple[dict, list[dict]]:
        client.get_received(CORDIAX)
        answer = client.emit("sync_data", {"data": data.hex()}, namespace=CORDIAX, callback=True)
        heard = client.get_received(CORDIAX)
        return answer, [m["args"][0] for m in heard if m["name"] == "sync_error"]

    try:
        yield push
    finally:
        client.disconnect(CORDIAX)


def test_the_servers_quota_per_user_applies_over_socketio(make_app):
    app = make_app(quota={"per_user": 4096})
    make_user(app, "pc@example.com")
    with cordiax_connection(app, make_token(app, "pc@example.com"), "pc") as push:
        first, _ = push(encrypted_database(3000))
        assert first["status"] == "ok"
        before = stored_files(app)

        answer, errors = push(encrypted_database(3000, seed=2))

    assert answer["status"] == "error" and answer["error"] == "quota_exceeded"
    assert [e["error"] for e in errors] == ["quota_exceeded"]
    assert stored_files(app) == before
