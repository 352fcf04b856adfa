"""Cordiax: a push killed mid-extraction leaves pieces the sweep removes; a push killed after
its sidecar, before its row, is whole and the sweep finishes it (its row, latest.json)."""

from __future__ import annotations

import json
from pathlib import Path

from syncapp.cordiax.wiring import snapshot_store, sweep_debris
from syncapp.extensions import db
from tests.conftest import make_user
from tests.cordiax.payloads import cordiax_bundle, sha256, zip_bundle
from tests.debris.conftest import backdate, files


def store_root(app) -> Path:
    return Path(app.instance_path) / "cordiax"


def bundle_of(members: int) -> bytes:
    return zip_bundle(
        {"cordiax.db": b"SQLite format 3\x00" + bytes(4096)}
        | {f"documentos/{n:03}.pdf": b"%PDF-1.7 " + bytes([n % 256]) * 64 for n in range(members)}
    )


def test_a_push_killed_mid_extraction_is_removed_once_old(make_app, kill_at):
    app = make_app()
    owner = make_user(app, "alice@example.com")
    with app.app_context():
        live = snapshot_store().store(owner, "live-pc", cordiax_bundle(1)).snapshot
        db.session.expunge_all()
    root = store_root(app)
    before = files(root)
    kill_at({}, "snapshot_mid_extraction", owner_id=owner, bundle=bundle_of(20).hex())

    debris = files(root) - before
    # the payload and the three members written before the kill; no sidecar, no latest.json
    assert len(debris) == 4 and all(p.startswith(f"{owner}/killed-pc/") for p in debris)
    assert not any(p.endswith(".json") for p in debris)
    with app.app_context():
        assert sweep_debris() == []  # young: a push might still be writing it
        backdate(*(root / p for p in files(root)))
        assert sorted(sweep_debris()) == sorted(debris)
        assert snapshot_store().versions(owner, "killed-pc") == []
        [kept] = snapshot_store().versions(owner, "live-pc")
        assert kept.sha256 == live.sha256
    assert files(root) == before


def test_a_push_killed_before_its_row_is_finished_from_its_sidecar(make_app, kill_at):
    app = make_app()
    owner = make_user(app, "alice@example.com")
    with app.app_context():
        snapshot_store().store(owner, "killed-pc", cordiax_bundle(1))  # the previous version
    root = store_root(app)
    bundle = bundle_of(5)
    kill_at({}, "snapshot_before_row", owner_id=owner, bundle=bundle.hex())
    latest = root / str(owner) / "killed-pc" / "latest.json"
    previous = json.loads(latest.read_text())["version"]

    with app.app_context():
        assert len(snapshot_store().versions(owner, "killed-pc")) == 1
        assert sweep_debris() == []  # young
        backdate(*(root / p for p in files(root)))
        [adopted] = sweep_debris()
        newest = snapshot_store().latest(owner, "killed-pc")
        assert adopted == f"adopted:{newest.path}"
        assert newest.sha256 == sha256(bundle) and newest.kind == "zip"
        assert newest.version != previous
        assert json.loads(latest.read_text())["version"] == newest.version
        # the client, never acknowledged, pushes the same bytes again: nothing new is stored
        again = snapshot_store().store(owner, "killed-pc", bundle)
        assert again.created is False and again.snapshot.version == newest.version
        assert sweep_debris() == []
        path, version = newest.path, newest.version
    assert sha256((root / path).read_bytes()) == sha256(bundle)
    assert len(list((root / str(owner) / "killed-pc" / version).rglob("*.pdf"))) == 5
