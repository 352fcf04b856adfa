"""ConfinedLocalRemote: a folder swapped for a symbolic link after the remote was opened is
refused, never followed, for reading, listing, writing and deleting (the contract itself is
tests/test_storage_conformance.py, which runs this mode as `local_confined`)."""

from __future__ import annotations

import io
import os
import shutil
import threading

import pytest

from syncapp.storage import RemoteError, RemoteNotFound
from syncapp.storage.local import ConfinedLocalRemote, PathRefused


@pytest.fixture
def world(tmp_path):
    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "job" / "sub").mkdir(parents=True)
    (root / "job" / "sub" / "mine.txt").write_bytes(b"inside")
    outside.mkdir()
    (outside / "secret.txt").write_bytes(b"outside the root")
    remote = ConfinedLocalRemote.open(str(root), "job")
    yield root / "job", outside, remote
    remote.close()


def swap_for_link(folder, target) -> None:
    shutil.rmtree(folder)
    folder.symlink_to(target, target_is_directory=True)


def outside_files(outside) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in outside.iterdir()}


def test_a_folder_swapped_for_a_link_is_neither_read_nor_listed(world):
    job, outside, remote = world
    assert [path for path, _ in remote.walk()] == ["sub/mine.txt"]
    swap_for_link(job / "sub", outside)
    assert list(remote.walk()) == []
    with pytest.raises(PathRefused):
        remote.stat("sub/secret.txt")
    with pytest.raises(PathRefused):
        remote.open_read("sub/secret.txt")
    with pytest.raises(PathRefused):
        remote.delete("sub/secret.txt")
    assert outside_files(outside) == {"secret.txt": b"outside the root"}


def test_a_folder_swapped_for_a_link_is_not_written_through(world):
    job, outside, remote = world
    swap_for_link(job / "sub", outside)
    with pytest.raises(PathRefused):
        remote.write("sub/secret.txt", io.BytesIO(b"overwritten"))
    with pytest.raises(PathRefused):
        remote.write("sub/new.txt", io.BytesIO(b"planted"))
    assert outside_files(outside) == {"secret.txt": b"outside the root"}


def test_the_folder_itself_and_every_folder_on_the_way_are_opened_without_links(tmp_path):
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    (outside / "job").mkdir(parents=True)
    (root / "link").symlink_to(outside, target_is_directory=True)
    with pytest.raises(PathRefused):
        ConfinedLocalRemote.open(str(root), "link/job")
    with pytest.raises(RemoteNotFound):
        ConfinedLocalRemote.open(str(root), "missing/job")
    assert not (root / "missing").exists()  # opened, never created


def test_a_file_swapped_for_a_link_or_a_pipe_is_not_read(world):
    job, outside, remote = world
    (job / "sub" / "mine.txt").unlink()
    (job / "sub" / "mine.txt").symlink_to(outside / "secret.txt")
    with pytest.raises(PathRefused):
        remote.open_read("sub/mine.txt")
    assert remote.stat("sub/mine.txt") is None
    os.mkfifo(job / "sub" / "pipe")
    opened = threading.Event()

    def read_pipe() -> None:
        with pytest.raises(RemoteNotFound):
            remote.open_read("sub/pipe")  # a blocking open would wait for a writer forever
        opened.set()

    reader = threading.Thread(target=read_pipe, daemon=True)
    reader.start()
    reader.join(timeout=30)
    assert opened.is_set()


def test_a_folder_removed_while_open_is_made_again_inside_the_root(world):
    job, _, remote = world
    remote.write("sub/a.txt", io.BytesIO(b"a"))  # "sub" is now an open, cached folder
    shutil.rmtree(job / "sub")
    remote.write("sub/b.txt", io.BytesIO(b"b"))
    assert (job / "sub" / "b.txt").read_bytes() == b"b"


def test_a_file_where_a_folder_should_be_is_a_clear_error(world):
    job, _, remote = world
    (job / "plain").write_bytes(b"a file")
    with pytest.raises(RemoteError, match="where a folder should be"):
        remote.write("plain/x.txt", io.BytesIO(b"x"))
    assert (job / "plain").read_bytes() == b"a file"


# --- copy_in: a confined folder's file copied into another's, descriptor to descriptor ----------


@pytest.fixture
def two_folders(tmp_path):
    (tmp_path / "src" / "d").mkdir(parents=True)
    (tmp_path / "dst").mkdir()
    src = ConfinedLocalRemote.open(str(tmp_path), "src")
    dst = ConfinedLocalRemote.open(str(tmp_path), "dst")
    yield tmp_path / "src", tmp_path / "dst", src, dst
    src.close()
    dst.close()


@pytest.mark.parametrize("size", [0, 1, 70_000, 1024 * 1024, 2 * 1024 * 1024 + 5])
def test_a_direct_copy_lands_the_same_bytes_mtime_and_md5(two_folders, size):
    import hashlib

    from syncapp.transfer import copy_verified

    src_dir, dst_dir, src, dst = two_folders
    data = os.urandom(size)
    (src_dir / "d" / "f.bin").write_bytes(data)
    os.utime(src_dir / "d" / "f.bin", ns=(1_600_000_000_123_456_000,) * 2)
    result = copy_verified(src, "d/f.bin", dst, "d/f.bin", stable_source=True)
    landed = dst_dir / "d" / "f.bin"
    assert landed.read_bytes() == data
    assert result.md5 == hashlib.md5(data).hexdigest() and result.size == size
    assert abs(landed.stat().st_mtime_ns - 1_600_000_000_123_456_000) < 1000
    assert sorted(p.name for p in (dst_dir / "d").iterdir()) == ["f.bin"]  # no temp left


def test_a_direct_copy_of_a_source_that_changed_while_read_leaves_the_destination_alone(
    two_folders,
):
    from syncapp.storage.local import file_entry
    from syncapp.transfer import SourceChanged, copy_verified

    src_dir, dst_dir, src, dst = two_folders
    (src_dir / "d" / "f.bin").write_bytes(b"new bytes, longer than the scan saw")
    (dst_dir / "d").mkdir()
    (dst_dir / "d" / "f.bin").write_bytes(b"the copy before")
    st = (src_dir / "d" / "f.bin").stat()
    scanned = file_entry("d/f.bin", 5, st.st_mtime_ns)  # what an earlier scan said: 5 bytes
    with pytest.raises(SourceChanged):
        copy_verified(src, "d/f.bin", dst, "d/f.bin", stable_source=True, known=scanned)
    assert sorted(p.name for p in (dst_dir / "d").iterdir()) == ["f.bin"]
    assert (dst_dir / "d" / "f.bin").read_bytes() == b"the copy before"


def test_a_direct_copy_of_a_missing_or_linked_source_is_refused(two_folders, tmp_path):
    from syncapp.transfer import copy_verified

    src_dir, dst_dir, src, dst = two_folders
    with pytest.raises(RemoteNotFound):
        copy_verified(src, "d/gone.bin", dst, "d/gone.bin")
    (tmp_path / "secret").write_bytes(b"outside")
    (src_dir / "d" / "link.bin").symlink_to(tmp_path / "secret")
    with pytest.raises(RemoteError):
        copy_verified(src, "d/link.bin", dst, "d/link.bin")
    assert not (dst_dir / "d" / "link.bin").exists()
