"""One contract, seven backends (local also confined): every test here runs against each backend
on its real server."""

from __future__ import annotations

import hashlib
import io
from datetime import UTC, datetime

import pytest

from syncapp.storage import ChecksumMismatch, RemoteError, RemoteNotFound
from syncapp.storage.base import TEMP_PREFIX
from tests.streams import PatternStream, md5_of_stream, pattern_md5

# gcs: the s3 backend with Google Cloud Storage's settings, against the S3 peer (storage/gcs.py)
BACKENDS = ["local", "local_confined", "smb", "webdav", "s3", "gcs", "azure", "gdrive"]
MiB = 1024 * 1024

pytestmark = pytest.mark.peer


@pytest.fixture(params=BACKENDS)
def remote(request):
    """A fresh, empty Remote of each kind (a new folder, prefix or container per test)."""
    return request.getfixturevalue(f"{request.param}_remote")


def read_all(remote, path: str) -> bytes:
    with remote.open_read(path) as reader:
        return reader.read()


def visible_paths(remote, prefix: str = "") -> set[str]:
    return {entry.path for entry in remote.iter_entries(prefix)}


@pytest.mark.parametrize("size", [0, 1, 5 * MiB])
def test_round_trip_preserves_bytes(remote, size):
    entry = remote.write("data.bin", PatternStream(size, seed=size), size=size)
    assert entry.size == size
    assert entry.md5 == pattern_md5(size, seed=size)
    with remote.open_read("data.bin") as reader:
        assert md5_of_stream(reader) == pattern_md5(size, seed=size)
    assert remote.stat("data.bin").size == size


def test_large_file_round_trip(remote):
    size = 64 * MiB
    expected = pattern_md5(size, seed=64)
    entry = remote.write("big/large.bin", PatternStream(size, seed=64), size=size, md5=expected)
    assert entry.md5 == expected
    with remote.open_read("big/large.bin") as reader:
        assert md5_of_stream(reader) == expected
    server_md5 = remote.checksum("big/large.bin")
    assert server_md5 in (None, expected)


def test_nested_paths_spaces_and_non_ascii_names(remote):
    names = ["a/b/c/deep.txt", "with space/file name.txt", "ümlaut/naïve café ☃.txt"]
    for index, name in enumerate(names):
        remote.write(name, io.BytesIO(f"content {index}".encode()))
    assert visible_paths(remote) == set(names)
    for index, name in enumerate(names):
        assert read_all(remote, name) == f"content {index}".encode()


def test_listing_is_recursive_and_filtered_by_prefix(remote):
    for name in ["x/1.txt", "x/y/2.txt", "z/3.txt", "top.txt"]:
        remote.write(name, io.BytesIO(name.encode()))
    assert visible_paths(remote) == {"x/1.txt", "x/y/2.txt", "z/3.txt", "top.txt"}
    assert visible_paths(remote, "x") == {"x/1.txt", "x/y/2.txt"}
    assert visible_paths(remote, "missing") == set()
    sizes = {e.path: e.size for e in remote.iter_entries()}
    assert sizes["x/y/2.txt"] == len(b"x/y/2.txt")


def test_stat_reports_size_and_none_when_missing(remote):
    remote.write("s/file.txt", io.BytesIO(b"12345"))
    entry = remote.stat("s/file.txt")
    assert entry.path == "s/file.txt"
    assert entry.size == 5
    assert entry.modified is not None
    assert remote.stat("s/absent.txt") is None
    assert remote.stat("s") is None  # a folder is not a file


def test_overwrite_replaces_content(remote):
    remote.write("o.txt", io.BytesIO(b"first version, longer"))
    remote.write("o.txt", io.BytesIO(b"second"))
    assert read_all(remote, "o.txt") == b"second"
    assert visible_paths(remote) == {"o.txt"}


def test_delete_removes_file_and_missing_is_not_found(remote):
    remote.write("d/gone.txt", io.BytesIO(b"bye"))
    remote.delete("d/gone.txt")
    assert remote.stat("d/gone.txt") is None
    assert "d/gone.txt" not in visible_paths(remote)
    with pytest.raises(RemoteNotFound):
        remote.delete("d/gone.txt")


def test_checksum_is_the_services_md5_when_it_has_one(remote):
    data = b"checksum me" * 1000
    remote.write("c.bin", io.BytesIO(data))
    assert remote.checksum("c.bin") in (None, hashlib.md5(data).hexdigest())
    with pytest.raises(RemoteNotFound):
        remote.checksum("nothing-here.bin")


def test_reading_a_missing_file_is_not_found(remote):
    with pytest.raises(RemoteNotFound):
        remote.open_read("no/such/file.txt")


def test_probe_succeeds_and_leaves_nothing(remote):
    result = remote.probe()
    assert result.success, result.message
    assert visible_paths(remote) == set()


def test_wrong_md5_stores_nothing(remote):
    with pytest.raises(ChecksumMismatch):
        remote.write("bad.bin", io.BytesIO(b"payload"), md5="0" * 32)
    assert remote.stat("bad.bin") is None
    assert visible_paths(remote) == set()


def test_wrong_md5_keeps_the_previous_version(remote):
    remote.write("keep.txt", io.BytesIO(b"original"))
    with pytest.raises(ChecksumMismatch):
        remote.write("keep.txt", io.BytesIO(b"replacement"), md5="0" * 32)
    assert read_all(remote, "keep.txt") == b"original"


def test_failed_write_leaves_no_visible_file(remote):
    stream = PatternStream(3 * MiB, seed=7, fail_after=2 * MiB)
    with pytest.raises((OSError, RemoteError)):
        remote.write("partial.bin", stream, size=3 * MiB)
    assert remote.stat("partial.bin") is None
    assert visible_paths(remote) == set()


def test_failed_overwrite_keeps_the_previous_version(remote):
    remote.write("stable.bin", io.BytesIO(b"good bytes"))
    stream = PatternStream(3 * MiB, seed=8, fail_after=2 * MiB)
    with pytest.raises((OSError, RemoteError)):
        remote.write("stable.bin", stream)
    assert read_all(remote, "stable.bin") == b"good bytes"


def test_short_stream_is_refused_when_size_is_given(remote):
    with pytest.raises(RemoteError):
        remote.write("short.bin", io.BytesIO(b"abc"), size=10)
    assert remote.stat("short.bin") is None


def test_paths_cannot_escape_the_root(remote):
    with pytest.raises(RemoteError):
        remote.write("../escape.txt", io.BytesIO(b"x"))
    with pytest.raises(RemoteError):
        remote.open_read("a/../../etc/passwd")


def test_temp_names_are_never_listed(remote):
    remote.write("real.txt", io.BytesIO(b"r"))
    assert all(not e.path.rsplit("/", 1)[-1].startswith(TEMP_PREFIX) for e in remote.iter_entries())


def test_move_renames_and_replaces(remote):
    remote.write("from/a.bin", io.BytesIO(b"moved bytes"))
    remote.write("to/b.bin", io.BytesIO(b"old"))
    entry = remote.move("from/a.bin", "to/b.bin")
    assert entry.size == len(b"moved bytes")
    assert remote.stat("from/a.bin") is None
    assert read_all(remote, "to/b.bin") == b"moved bytes"
    with pytest.raises(RemoteNotFound):
        remote.move("from/a.bin", "to/c.bin")


def test_move_into_a_new_folder_keeps_the_file_as_it_was(remote):
    """A move is no new version: its modification time and checksum stay, wherever the backend
    does the work (a rename, a copy on the server, or through `write`)."""
    stamp = datetime(2021, 3, 4, 5, 6, 7, tzinfo=UTC)
    remote.write("a/file.bin", io.BytesIO(b"kept as it was"), modified=stamp)
    entry = remote.move("a/file.bin", "new/deeper/file.bin")
    assert entry.path == "new/deeper/file.bin" and entry.size == len(b"kept as it was")
    moved = remote.stat("new/deeper/file.bin")
    assert abs((moved.modified - stamp).total_seconds()) < 2
    expected_md5 = hashlib.md5(b"kept as it was").hexdigest()
    assert remote.checksum("new/deeper/file.bin") in (None, expected_md5)
    assert visible_paths(remote) == {"new/deeper/file.bin"}


def test_move_onto_itself_keeps_the_file(remote):
    remote.write("same.bin", io.BytesIO(b"still here"))
    assert remote.move("same.bin", "same.bin").size == len(b"still here")
    assert read_all(remote, "same.bin") == b"still here"


def test_temp_files_are_listed_only_on_request(remote):
    stream = PatternStream(3 * MiB, seed=9, fail_after=2 * MiB)
    remote.write("real.txt", io.BytesIO(b"r"))
    with pytest.raises((OSError, RemoteError)):
        remote.write("broken.bin", stream)
    listed = {e.path for e in remote.iter_entries(include_temp=True)}
    assert "real.txt" in listed
    assert all(p == "real.txt" or p.rsplit("/", 1)[-1].startswith(TEMP_PREFIX) for p in listed)


def test_read_range_reads_only_the_range(remote):
    """`read_range(path, offset, length)`: the bytes asked for, fewer at the end, none past it;
    a missing file is RemoteNotFound, as `open_read`."""
    data = bytes(range(256)) * 5000  # 1.28 MB: a range crosses a chunk of any backend
    remote.write("ranged/file.bin", io.BytesIO(data), size=len(data))

    def read(offset: int, length: int | None = None) -> bytes:
        with remote.read_range("ranged/file.bin", offset, length) as reader:
            return reader.read()

    assert read(0, 10) == data[:10]
    assert read(1000, 2000) == data[1000:3000]
    assert read(len(data) - 5) == data[-5:]  # to the end
    assert read(1_100_000, 500_000) == data[1_100_000:]  # fewer at the end
    assert read(len(data)) == b"" and read(len(data) + 10, 5) == b""  # at or past the end
    assert read(7, 0) == b""
    with remote.read_range("ranged/file.bin", 3, None) as reader:  # read in pieces
        pieces = [reader.read(100_000) for _ in range(20)]
    assert b"".join(pieces) == data[3:]
    with pytest.raises(RemoteNotFound):
        remote.read_range("ranged/missing.bin", 0, 10)
    with pytest.raises(RemoteNotFound):
        remote.read_range("ranged/missing.bin", 5, 0)
