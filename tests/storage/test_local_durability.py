"""When a local write's rename reaches the disk: at once (the folder is fsynced by the write), or,
after `batch_durability()`, at `make_durable()`, once per folder however many files were
written there. The file's own bytes are fsynced before its rename either way. The folder fsyncs
are counted by wrapping `_fsync_now` (what `_fsync_dir` and `make_durable` call), around the
real fsync of a real folder."""

from __future__ import annotations

import io
import os

import pytest

from syncapp.storage import RemoteError, local
from syncapp.storage.local import ConfinedLocalRemote, LocalRemote


@pytest.fixture
def folder_fsyncs(monkeypatch):
    """The inodes of the folders fsynced, in order."""
    synced: list[int] = []
    real = local._fsync_now

    def counted(folder):
        st = os.fstat(folder) if isinstance(folder, int) else os.stat(folder)
        synced.append(st.st_ino)
        real(folder)

    monkeypatch.setattr(local, "_fsync_now", counted)
    return synced


@pytest.fixture(params=["confined", "plain"])
def remote(request, tmp_path):
    (tmp_path / "dst").mkdir()
    if request.param == "confined":
        opened = ConfinedLocalRemote.open(str(tmp_path), "dst")
    else:
        opened = LocalRemote(root=str(tmp_path / "dst"))
    yield opened
    opened.close()


def write(remote, path: str, data: bytes) -> None:
    entry = remote.write(path, io.BytesIO(data), size=len(data))
    assert entry.size == len(data)  # the write's own fstat (`write_stat`)


def test_each_write_fsyncs_its_folder_by_default(remote, tmp_path, folder_fsyncs):
    (tmp_path / "dst" / "d").mkdir()
    for name in ("a", "b", "c"):
        write(remote, f"d/{name}", name.encode())
    assert folder_fsyncs == [(tmp_path / "dst" / "d").stat().st_ino] * 3


def test_a_batch_fsyncs_each_folder_once_when_made_durable(remote, tmp_path, folder_fsyncs):
    (tmp_path / "dst" / "d").mkdir()
    remote.batch_durability()
    for name in ("a", "b", "c"):
        write(remote, f"d/{name}", name.encode())
    write(remote, "top", b"t")
    assert folder_fsyncs == []  # renamed, their names not yet made durable
    assert (tmp_path / "dst" / "d" / "b").read_bytes() == b"b"
    remote.make_durable()
    inodes = {(tmp_path / "dst" / p).stat().st_ino for p in ("d", ".")}
    assert sorted(folder_fsyncs) == sorted(inodes)
    remote.make_durable()  # nothing written since: nothing to do
    assert len(folder_fsyncs) == 2


def test_a_folder_made_for_a_file_is_made_durable_in_its_parent(tmp_path, folder_fsyncs):
    (tmp_path / "dst").mkdir()
    remote = ConfinedLocalRemote.open(str(tmp_path), "dst")
    try:
        remote.batch_durability()
        write(remote, "new/file", b"x")
        remote.make_durable()
    finally:
        remote.close()
    inodes = {(tmp_path / "dst" / p).stat().st_ino for p in ("new", ".")}
    assert sorted(folder_fsyncs) == sorted(inodes)


def test_folders_made_for_a_file_are_made_durable_in_their_parents(remote, tmp_path, folder_fsyncs):
    write(remote, "new/deeper/file", b"x")
    inodes = [(tmp_path / "dst" / p).stat().st_ino for p in (".", "new", "new/deeper")]
    assert sorted(folder_fsyncs) == sorted(inodes)


def test_a_failed_folder_fsync_is_an_error_and_stays_pending(remote, monkeypatch, folder_fsyncs):
    remote.batch_durability()
    write(remote, "a", b"a")
    counted = local._fsync_now

    def failing(folder):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(local, "_fsync_now", failing)
    with pytest.raises(RemoteError):
        remote.make_durable()
    monkeypatch.setattr(local, "_fsync_now", counted)
    remote.make_durable()  # tried again, now on the disk
    assert len(folder_fsyncs) == 1
