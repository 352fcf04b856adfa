"""Backups: an upload killed while staged in `.incoming/` is removed (at once when its process
was this host's, once old when another host's); an archive moved into place before its row is
whole, and the sweep indexes it from its sidecar."""

from __future__ import annotations

import uuid
from pathlib import Path

from syncapp.backups.models import BackupArchive
from syncapp.backups.wiring import archive_store, sweep_debris
from syncapp.extensions import db
from tests.backups.helpers import make_archive, md5, upload
from tests.conftest import make_token, make_user
from tests.debris.conftest import backdate, files


def store_root(tmp_path) -> Path:
    return tmp_path / "remote_backups"


def test_an_upload_killed_while_staged_is_removed(make_app, kill_at, tmp_path):
    app = make_app()
    make_user(app, "root@example.com", role="admin")
    token = make_token(app, "root@example.com")
    live = make_archive(1)
    assert (
        upload(app.test_client(), token, live, "full_live.tar.gz", type="FULL").status_code == 201
    )
    root = store_root(tmp_path)
    before = files(root)
    kill_at({}, "backup_staged", token=token, archive=make_archive(2).hex())
    [staged] = files(root) - before
    assert staged.startswith(".incoming/")

    # another host's uploads, which no process check reaches: one arriving, one left long ago
    arriving = root / ".incoming" / f"otherhost.4242.{uuid.uuid4().hex}.tar.gz"
    arriving.write_bytes(b"arriving")
    left = root / ".incoming" / f"otherhost.4242.{uuid.uuid4().hex}.tar.gz"
    left.write_bytes(b"left")
    backdate(left)
    with app.app_context():
        # the killed process was this host's and is dead: its upload goes at once
        assert sorted(sweep_debris()) == sorted([staged, left.relative_to(root).as_posix()])
    assert files(root) == before | {arriving.relative_to(root).as_posix()}


def test_an_archive_stored_before_its_row_is_indexed_from_its_sidecar(make_app, kill_at, tmp_path):
    app = make_app()
    make_user(app, "root@example.com", role="admin")
    token = make_token(app, "root@example.com")
    client = app.test_client()
    assert (
        upload(client, token, make_archive(1), "full_live.tar.gz", type="FULL").status_code == 201
    )
    root = store_root(tmp_path)
    data = make_archive(2)
    kill_at({}, "backup_before_row", token=token, archive=data.hex())
    assert {"FULL/full_placed.tar.gz", "FULL/full_placed.tar.gz.meta.json"} <= files(root)

    with app.app_context():
        assert db.session.query(BackupArchive).count() == 1  # the killed upload has no row
        assert sweep_debris() == []  # young: a commit might be between its move and its row
        backdate(root / "FULL" / "full_placed.tar.gz")
        assert sweep_debris() == ["adopted:FULL/full_placed.tar.gz"]
        [adopted] = [a for a in archive_store().archives(None) if a.name == "full_placed.tar.gz"]
        assert (adopted.md5, adopted.profile, adopted.size) == (md5(data), "p", len(data))
    listed = client.get("/list", headers={"Authorization": f"Bearer {token}"}).get_json()
    assert listed["total_count"] == 2
    # backup.sh, never acknowledged, uploads the same archive again: it is there already
    again = upload(client, token, data, "full_placed.tar.gz", type="FULL", profile="p")
    assert again.status_code in (200, 201), again.get_json()
    with app.app_context():
        assert db.session.query(BackupArchive).count() == 2
        assert sweep_debris() == []
    assert not any(p.startswith("FULL/p/") for p in files(root))  # no second copy beside it
