"""Documents: what a killed upload leaves (a file stored before its row, a half-written temp
file) is removed by the sweep; live documents and writes in progress are not touched."""

from __future__ import annotations

from pathlib import Path

from syncapp.documents.models import Document
from syncapp.documents.wiring import sweep_debris
from syncapp.extensions import db
from syncapp.storage.base import TEMP_PREFIX, temp_name
from tests.conftest import bearer, make_token, make_user
from tests.debris.conftest import backdate, files
from tests.documents.helpers import uploaded


def store_root(app) -> Path:
    return Path(app.instance_path) / "documents"


def test_a_document_stored_before_its_row_is_removed_once_older_than_min_age(make_app, kill_at):
    app = make_app()
    owner = make_user(app, "alice@example.com")
    token = make_token(app, "alice@example.com")
    live = uploaded(app.test_client(), token, b"%PDF live", "live.pdf")
    root = store_root(app)
    with app.app_context():
        live_path = db.session.get(Document, live["id"]).stored_path
    kill_at({}, "document_before_row", token=token)

    [orphan] = files(root) - {live_path}
    assert orphan.startswith(f"{owner}/") and not orphan.startswith(TEMP_PREFIX)
    with app.app_context():
        assert db.session.query(Document).count() == 1  # the killed upload has no row
        assert sweep_debris() == []  # young: it might be an upload between write and row
    assert orphan in files(root)

    backdate(root / orphan, root / live_path)
    # a write in progress on another host, which no process check can reach: young, kept
    in_flight = root / str(owner) / f"{TEMP_PREFIX}otherhost.4242.abcdef123456-x.pdf"
    in_flight.write_bytes(b"arriving")
    with app.app_context():
        assert sweep_debris() == [orphan]
    assert files(root) == {live_path, in_flight.relative_to(root).as_posix()}
    download = app.test_client().get(
        f"/api/v1/documents/{live['id']}/download", headers=bearer(token)
    )
    assert download.status_code == 200 and download.data == b"%PDF live"


def test_a_document_write_killed_midway_leaves_a_temp_file_that_is_removed_at_once(
    make_app, kill_at
):
    app = make_app()
    owner = make_user(app, "alice@example.com")
    root = store_root(app)
    kill_at({}, "document_mid_write", owner_id=owner)
    [temp] = files(root)
    assert Path(temp).name.startswith(TEMP_PREFIX)

    # this process's own temp file, however old, is a write of a live process: kept
    mine = root / temp_name(f"{owner}/mine.pdf")
    mine.write_bytes(b"mine")
    backdate(mine)
    # another host's, old: debris
    foreign = root / str(owner) / f"{TEMP_PREFIX}otherhost.4242.abcdef123456-old.pdf"
    foreign.write_bytes(b"left")
    backdate(foreign)
    with app.app_context():
        # the killed writer was a process of this host, now dead: no need to wait for an age
        removed = sweep_debris()
    assert sorted(removed) == sorted([temp, foreign.relative_to(root).as_posix()])
    assert files(root) == {mine.relative_to(root).as_posix()}


def test_a_store_whose_table_is_empty_is_left_alone(make_app):
    """Without a single row the table is not this store's index (a new database over an old
    store): files of the documents' layout are kept, however old."""
    app = make_app()
    owner = make_user(app, "alice@example.com")
    old = store_root(app) / str(owner) / f"{'a' * 32}.pdf"
    old.parent.mkdir(parents=True)
    old.write_bytes(b"%PDF of an earlier database")
    backdate(old)
    with app.app_context():
        assert sweep_debris() == []
    assert old.exists()
