"""SnapshotStore on a real folder: kinds, deduplication, safe ZIPs, retention, concurrency."""

from __future__ import annotations

import io
import json
import stat
import threading
import zipfile
from datetime import timedelta

import pytest

from syncapp.cordiax.models import CordiaxSnapshot
from syncapp.cordiax.snapshots import Limits, SnapshotRefused, SnapshotStore
from syncapp.extensions import db
from syncapp.storage import open_remote
from tests.conftest import make_user
from tests.cordiax.payloads import (
    cordiax_bundle,
    encrypted_database,
    one_mebibyte_bomb,
    overlapping_bundle,
    sha256,
    small_members_bomb,
    sqlite_database,
    zip_bundle,
)


@pytest.fixture
def store(app, tmp_path):
    user_id = make_user(app, "cordiax@example.com")
    with app.app_context():
        remote = open_remote("local", root=str(tmp_path / "snapshots"))
        snapshot_store = SnapshotStore(remote, db.session, Limits(max_size=4 * 1024 * 1024))
        snapshot_store.user_id = user_id  # type: ignore[attr-defined]
        yield snapshot_store


def files(store) -> set[str]:
    return {e.path for e in store.remote.iter_entries()}


def test_plaintext_sqlite_is_stored_unencrypted_with_sidecar_and_latest(store):
    data = sqlite_database(10_000)
    result = store.store(store.user_id, "pc", data)
    snap = result.snapshot
    assert result.created and snap.kind == "sqlite" and snap.encrypted is False
    assert snap.sha256 == sha256(data) and snap.path.endswith(".db")
    sidecar = json.loads(store.remote.open_read(f"{store.user_id}/pc/{snap.version}.json").read())
    assert sidecar["sha256"] == sha256(data) and sidecar["received_at"].endswith("Z")
    latest = json.loads(store.remote.open_read(f"{store.user_id}/pc/latest.json").read())
    assert latest == {"version": snap.version, "path": snap.path}


def test_a_payload_of_several_chunks_is_stored_byte_for_byte(store):
    """The payload reaches a local folder as views of it (no copies, no MD5): all of it, in
    order, whatever its size against the store's 1 MiB reads."""
    data = sqlite_database(3 * 1024 * 1024 + 5, seed=3)
    snap = store.store(store.user_id, "pc", data).snapshot
    assert store.remote.open_read(snap.path).read() == data and snap.size == len(data)


def test_cordiax_encrypted_format_is_stored_as_an_encrypted_database(store):
    snap = store.store(store.user_id, "pc", encrypted_database(5000)).snapshot
    assert snap.kind == "encrypted" and snap.encrypted is True and snap.path.endswith(".bin")


@pytest.mark.parametrize(
    "payload",
    [
        b"deadbeef",
        bytes(range(256)) * 20,  # random-looking bytes
        b"0123456789abcdef" + b"gAAAAA" + b"not base64 \x00\xff" * 10,  # a salt, then no token
        b"0123456789abcdef" + b"hAAAAA" + b"A" * 100,  # base64, but not a Fernet token
    ],
)
def test_bytes_that_are_no_known_format_are_refused_and_nothing_is_kept(store, payload):
    with pytest.raises(SnapshotRefused) as refused:
        store.store(store.user_id, "pc", payload)
    assert refused.value.code == "unknown_format"
    assert store.versions(store.user_id, "pc") == [] and files(store) == set()


def test_a_push_equal_to_an_older_version_keeps_no_second_copy_and_becomes_latest(store):
    a, b = encrypted_database(5000, seed=11), encrypted_database(5000, seed=12)
    first = store.store(store.user_id, "pc", a).snapshot
    store.store(store.user_id, "pc", b)
    before = files(store)
    again = store.store(store.user_id, "pc", a)
    assert again.created is False and again.snapshot.version == first.version
    assert files(store) == before and len(store.versions(store.user_id, "pc")) == 2
    assert store.latest(store.user_id, "pc").sha256 == sha256(a)
    latest = json.loads(store.remote.open_read(f"{store.user_id}/pc/latest.json").read())
    assert latest["version"] == first.version


def test_the_database_keeps_one_copy_when_another_process_stored_the_same_push(store, monkeypatch):
    """Two processes receiving the same push at once: their locks are their own, so both see
    no copy and both write one. Here the other process's row lands between this process's
    check and its insert; the unique (user, device, sha256) constraint must refuse the second
    row, and this process must keep the other's copy and remove its own files."""
    data = encrypted_database(5000, seed=13)
    other = store.store(store.user_id, "pc", data).snapshot
    before = files(store)
    checks = iter([None])  # the first look finds nothing: the other had not committed yet
    real = SnapshotStore._with_content
    monkeypatch.setattr(
        SnapshotStore,
        "_with_content",
        lambda self, *key: next(checks, None) or real(self, *key),
    )
    result = store.store(store.user_id, "pc", data)
    assert result.created is False and result.snapshot.version == other.version
    assert len(store.versions(store.user_id, "pc")) == 1 and files(store) == before


def test_an_identical_push_creates_no_version(store):
    data = encrypted_database(5000, seed=1)
    first = store.store(store.user_id, "pc", data)
    again = store.store(store.user_id, "pc", data)
    assert again.created is False and again.snapshot.version == first.snapshot.version
    changed = store.store(store.user_id, "pc", encrypted_database(5000, seed=2))
    assert changed.created and len(store.versions(store.user_id, "pc")) == 2


def test_plaintext_can_be_refused_by_config(app, tmp_path):
    make_user(app, "p@example.com")
    with app.app_context():
        strict = SnapshotStore(
            open_remote("local", root=str(tmp_path / "s")),
            db.session,
            Limits(allow_plaintext=False),
        )
        with pytest.raises(SnapshotRefused) as refused:
            strict.store(1, "pc", sqlite_database(1000))
    assert refused.value.code == "plaintext_refused"


def zip_with_symlink() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        bundle.writestr("cordiax.db", b"x")
        link = zipfile.ZipInfo("documentos/link")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        bundle.writestr(link, "/etc/passwd")
    return buffer.getvalue()


def zip_bomb() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bundle:
        bundle.writestr("cordiax.db", bytes(3 * 1024 * 1024))  # 3 MiB of zeros: ~1000x
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        (b"", "empty"),
        (encrypted_database(5 * 1024 * 1024), "too_large"),
        (b"PK\x03\x04 truncated zip", "bad_zip"),
        (cordiax_bundle()[:-40], "bad_zip"),
        (zip_bundle({"../../evil": b"x"}), "unsafe_zip"),
        (zip_bundle({"/abs/path": b"x"}), "unsafe_zip"),
        (zip_bundle({"C:\\windows\\x": b"x"}), "unsafe_zip"),
        (zip_with_symlink(), "unsafe_zip"),
        (zip_bomb(), "zip_bomb"),
    ],
    ids=[
        "empty",
        "too-large",
        "not-zip",
        "truncated",
        "dotdot",
        "absolute",
        "drive",
        "symlink",
        "bomb",
    ],
)
def test_bad_payloads_are_refused_and_store_nothing(store, payload, code):
    with pytest.raises(SnapshotRefused) as refused:
        store.store(store.user_id, "pc", payload)
    assert refused.value.code == code
    assert files(store) == set()
    assert store.versions(store.user_id, "pc") == []


def test_too_many_zip_entries_are_refused(app, tmp_path):
    with app.app_context():
        small = SnapshotStore(
            open_remote("local", root=str(tmp_path / "z")), db.session, Limits(zip_max_files=3)
        )
        with pytest.raises(SnapshotRefused) as refused:
            small.store(1, "pc", zip_bundle({f"pdfs/{n}.pdf": b"x" for n in range(5)}))
    assert refused.value.code == "zip_too_many_files"


def test_a_bundle_is_extracted_into_its_version_folder(store):
    snap = store.store(store.user_id, "pc", cordiax_bundle()).snapshot
    folder = f"{store.user_id}/pc/{snap.version}"
    assert {
        f"{folder}/cordiax.db",
        f"{folder}/documentos/factura 1.pdf",
        f"{folder}/pdfs/recibo.pdf",
    } <= files(store)
    assert snap.encrypted is True


# "pc\n": `$` matches before a final newline, fullmatch does not
@pytest.mark.parametrize("device", ["../other", "pc\n", "pc\r\n", "\npc", 7, None])
def test_device_names_are_checked(store, device):
    with pytest.raises(SnapshotRefused) as refused:
        store.store(store.user_id, device, encrypted_database(100))
    assert refused.value.code == "invalid_device"
    assert files(store) == set()


# Each member at or under 1 MiB: the size under which the ratio check used to look away.
@pytest.mark.parametrize(
    "bundle",
    [small_members_bomb(), one_mebibyte_bomb(), overlapping_bundle(20)],
    ids=["many-small-members", "one-mebibyte-member", "overlapping-members"],
)
def test_zip_bombs_of_small_members_are_refused_before_anything_is_written(store, bundle):
    with pytest.raises(SnapshotRefused) as refused:
        store.store(store.user_id, "pc", bundle)
    assert refused.value.code == "zip_bomb"
    assert files(store) == set()
    assert store.versions(store.user_id, "pc") == []


def test_overlapping_members_are_refused_by_the_whole_archive_ratio(store):
    """Every entry of this bundle has a harmless ratio of its own: only the archive's is not."""
    bundle = overlapping_bundle(20)
    members = zipfile.ZipFile(io.BytesIO(bundle)).infolist()
    assert all(m.file_size < store.limits.zip_max_ratio * m.compress_size for m in members)
    with pytest.raises(SnapshotRefused) as refused:
        store.store(store.user_id, "pc", bundle)
    assert "as a whole" in refused.value.message


def test_concurrent_pushes_to_one_device_are_not_mixed(store, app):
    payloads = [encrypted_database(50_000, seed=n) for n in range(8)]
    errors: list[BaseException] = []

    def push(data: bytes) -> None:
        with app.app_context():
            worker = SnapshotStore(store.remote, db.session, store.limits)
            try:
                worker.store(store.user_id, "shared", data)
            except BaseException as exc:
                errors.append(exc)

    threads = [threading.Thread(target=push, args=(p,)) for p in payloads]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    stored = store.versions(store.user_id, "shared")
    assert sorted(s.sha256 for s in stored) == sorted(sha256(p) for p in payloads)
    for snapshot in stored:
        with store.remote.open_read(snapshot.path) as reader:
            assert sha256(reader.read()) == snapshot.sha256


def test_deleting_the_latest_points_latest_at_the_previous(store):
    first = store.store(store.user_id, "pc", encrypted_database(100, seed=1)).snapshot
    second = store.store(store.user_id, "pc", encrypted_database(100, seed=2)).snapshot
    store.delete(second)
    latest = json.loads(store.remote.open_read(f"{store.user_id}/pc/latest.json").read())
    assert latest["version"] == first.version
    assert not any(second.version in path for path in files(store))


def test_retention_keeps_the_last_and_one_per_day(store):
    made = [
        store.store(store.user_id, "pc", encrypted_database(100, seed=n)).snapshot for n in range(6)
    ]
    # spread them over days: two per day (noon and an hour before) for three days, newest last;
    # fixed hours, so that the pairs never straddle a midnight whatever time the test runs
    noon = made[-1].received_at.replace(hour=12, minute=0, second=0) - timedelta(days=1)
    for index, snapshot in enumerate(made):
        snapshot.received_at = noon - timedelta(days=(5 - index) // 2, hours=(5 - index) % 2)
    db.session.commit()
    removed = store.apply_retention(keep_last=1, keep_daily_days=30)
    kept = {s.id for s in store.versions(store.user_id, "pc")}
    assert made[-1].id in kept
    assert len(kept) == 3 and len(removed) == 3
    assert db.session.query(CordiaxSnapshot).count() == 3
