"""The local backends, plain and confined, report every failure of the disk as a storage error
(the RemoteError family), never as a bare OSError, and what was there before stays as it was.

Callers tell a file that cannot be stored (RemoteError: that file fails, the others go on) from
a destination that is gone (RemoteUnavailable, RemoteFull: the run waits); an OSError escaping
them looked like a crash of the whole run (issue 17 item 15)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from syncapp.storage import RemoteError, RemoteNotFound
from syncapp.storage.base import TEMP_PREFIX
from syncapp.storage.local import ConfinedLocalRemote, LocalRemote

KINDS = ["local", "local_confined"]


def open_kind(kind: str, root: Path, folder: str = ""):
    if kind == "local":
        return LocalRemote(root=str(root / folder), create_root=False)
    return ConfinedLocalRemote.open(str(root), folder)


@pytest.fixture(params=KINDS)
def world(request, tmp_path):
    folder = tmp_path / "store"
    folder.mkdir()
    (folder / "d").write_bytes(b"a file where a folder is wanted")
    remote = open_kind(request.param, tmp_path, "store")
    yield folder, remote
    remote.close()


def files_in(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }


def test_writing_below_a_file_is_a_storage_error_and_keeps_the_file(world):
    folder, remote = world
    with pytest.raises(RemoteError) as raised:
        remote.write("d/x.txt", io.BytesIO(b"new"))
    assert "d" in str(raised.value)
    assert files_in(folder) == {"d": b"a file where a folder is wanted"}


def test_moving_below_a_file_is_a_storage_error_and_keeps_the_source(world):
    folder, remote = world
    remote.write("m.txt", io.BytesIO(b"moved"))
    with pytest.raises(RemoteError):
        remote.move("m.txt", "d/m.txt")
    assert files_in(folder) == {"d": b"a file where a folder is wanted", "m.txt": b"moved"}


@pytest.mark.parametrize("name", ["n" * 230, "n" * 255, "é" * 127])
def test_a_long_name_the_disk_takes_is_written_despite_the_temp_names_prefix(world, name):
    folder, remote = world
    remote.write(name, io.BytesIO(b"long"))
    assert files_in(folder)[name] == b"long"
    assert not any(name.startswith(TEMP_PREFIX) for name in files_in(folder))


def test_a_name_too_long_for_the_disk_is_a_storage_error_and_leaves_nothing(world):
    folder, remote = world
    with pytest.raises(RemoteError) as raised:
        remote.write("n" * 256, io.BytesIO(b"x"))
    assert "too long" in str(raised.value).lower()
    assert not any(name.startswith(TEMP_PREFIX) for name in files_in(folder))


def test_reading_or_deleting_below_a_file_is_a_storage_error(world):
    _, remote = world
    with pytest.raises(RemoteError):
        remote.open_read("d/x.txt")
    with pytest.raises(RemoteError):
        remote.delete("d/x.txt")


def test_a_folder_where_a_file_is_written_is_a_storage_error(world):
    folder, remote = world
    (folder / "sub" / "inner").mkdir(parents=True)
    with pytest.raises(RemoteError):
        remote.write("sub", io.BytesIO(b"x"))
    assert (folder / "sub" / "inner").is_dir()


@pytest.mark.parametrize("kind", KINDS)
def test_an_error_while_reading_is_a_storage_error(kind):
    """/proc/self/mem is a regular file whose first page cannot be read (EIO): a disk failing
    under a read does the same."""
    remote = open_kind(kind, Path("/proc/self"))
    try:
        with remote.open_read("mem") as reader, pytest.raises(RemoteError) as raised:
            reader.read(4096)
        assert "mem" in str(raised.value)
        with remote.open_read("mem") as reader, pytest.raises(RemoteError):
            reader.read()
    finally:
        remote.close()


def test_a_read_error_while_writing_is_the_sources_not_the_destinations(world, tmp_path):
    """A failing source makes the write fail with the source's error, and nothing lands."""
    folder, remote = world
    proc = open_kind("local", Path("/proc/self"))
    with proc.open_read("mem") as reader, pytest.raises(RemoteError) as raised:
        remote.write("copy.bin", reader)
    assert "mem" in str(raised.value) and not isinstance(raised.value, RemoteNotFound)
    assert files_in(folder) == {"d": b"a file where a folder is wanted"}


def test_a_root_that_cannot_be_made_is_a_storage_error(tmp_path):
    (tmp_path / "file").write_bytes(b"x")
    with pytest.raises(RemoteError):
        LocalRemote(root=str(tmp_path / "file" / "root"))
