"""The gdrive backend against the Drive fake: credentials, outages, resumable uploads, queries."""

from __future__ import annotations

import hashlib
import io
import threading
import time

import pytest

from syncapp.storage import (
    ChecksumMismatch,
    RemoteConfigError,
    RemoteFull,
    RemoteNotFound,
    RemoteUnavailable,
    open_remote,
)
from syncapp.storage.gdrive import DriveRemote
from tests.peers.gdrive import fake_stats, make_drive_folder, set_fake_quota
from tests.peers.process import free_port
from tests.streams import PatternStream, md5_of_stream, pattern_md5

pytestmark = pytest.mark.peer

KiB = 1024
#: Drive's chunk granularity: the smallest chunk size a resumable upload may use.
GRANULE = 256 * KiB


def drive_remote(peer, **overrides):
    settings = {**peer.settings, "root_folder_id": make_drive_folder(peer), **overrides}
    return open_remote("gdrive", **settings)


class StopAfter(io.RawIOBase):
    """Reads `inner`, and runs `action` once, when `after` bytes have been read."""

    def __init__(self, inner, after: int, action) -> None:
        self.inner, self.after, self.action, self.done = inner, after, action, 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if self.action is not None and self.done >= self.after:
            self.action()
            self.action = None
        data = self.inner.read(size)
        self.done += len(data)
        return data


def test_wrong_refresh_token_fails_probe_with_a_clear_message(gdrive_server):
    wrong = "1//not-the-issued-refresh-token"
    with drive_remote(gdrive_server) as good:
        folder = good.root_folder_id
    remote = open_remote(
        "gdrive", **{**gdrive_server.settings, "refresh_token": wrong, "root_folder_id": folder}
    )
    result = remote.probe()
    assert not result.success
    assert "refused the credentials" in result.message
    assert "invalid_grant" in result.message
    assert wrong not in result.message and wrong not in remote.describe()


def test_stale_access_token_is_refreshed_transparently(gdrive_server):
    with drive_remote(gdrive_server, access_token="ya29.expired-long-ago") as remote:
        remote.write("fresh.txt", io.BytesIO(b"after a refresh"))
        with remote.open_read("fresh.txt") as reader:
            assert reader.read() == b"after a refresh"


def test_closed_port_fails_probe(gdrive_server):
    port = free_port()  # nothing listens there
    settings = {
        **gdrive_server.settings,
        "token_uri": f"https://127.0.0.1:{port}/token",
        "api_endpoint": f"https://127.0.0.1:{port}/drive/v3/",
        "timeout": 5,
    }
    result = open_remote("gdrive", **settings).probe()
    assert not result.success
    assert "cannot reach" in result.message


def test_missing_root_folder_fails_probe_with_a_clear_message(gdrive_server):
    remote = open_remote("gdrive", **gdrive_server.settings, root_folder_id="no-such-folder-id")
    result = remote.probe()
    assert not result.success
    assert "does not exist" in result.message


def test_bad_settings_are_config_errors(gdrive_server):
    with pytest.raises(RemoteConfigError, match="256 KiB"):
        open_remote("gdrive", **gdrive_server.settings, chunk_size=1000 * KiB)
    with pytest.raises(RemoteConfigError, match="/drive/v3/"):
        open_remote("gdrive", **{**gdrive_server.settings, "api_endpoint": "https://x/v3"})


@pytest.mark.parametrize("size", [4 * GRANULE, 4 * GRANULE + 1000])
def test_resumable_multi_chunk_upload_round_trips(gdrive_server, size):
    expected = pattern_md5(size, seed=size)
    with drive_remote(gdrive_server, chunk_size=GRANULE) as remote:
        before = fake_stats(gdrive_server).get("chunk_puts", 0)
        entry = remote.write(
            "chunks/multi.bin", PatternStream(size, seed=size), size=size, md5=expected
        )
        chunk_puts = fake_stats(gdrive_server).get("chunk_puts", 0) - before
        assert chunk_puts == -(-size // GRANULE)  # one PUT per 256 KiB chunk, none wasted
        assert entry.md5 == expected and entry.size == size
        assert remote.checksum("chunks/multi.bin") == expected  # Drive's own md5Checksum
        with remote.open_read("chunks/multi.bin") as reader:  # 256 KiB range requests
            assert md5_of_stream(reader) == expected


def test_small_files_take_one_multipart_request(gdrive_server):
    with drive_remote(gdrive_server) as remote:
        before = fake_stats(gdrive_server)
        remote.write("small.txt", io.BytesIO(b"tiny"))
        after = fake_stats(gdrive_server)
        assert after.get("multipart_uploads", 0) == before.get("multipart_uploads", 0) + 1
        assert after.get("resumable_sessions", 0) == before.get("resumable_sessions", 0)
        assert remote.checksum("small.txt") == hashlib.md5(b"tiny").hexdigest()


def test_wrong_md5_of_a_multi_chunk_upload_creates_nothing(gdrive_server):
    size = 3 * GRANULE + 5
    with drive_remote(gdrive_server, chunk_size=GRANULE) as remote:
        with pytest.raises(ChecksumMismatch):
            remote.write("m.bin", PatternStream(size, seed=3), size=size, md5="0" * 32)
        assert remote.stat("m.bin") is None
        assert list(remote.iter_entries()) == []


def test_quotes_in_names_are_escaped_in_queries(gdrive_server):
    names = ["o'brien/it's here.txt", "q'/'/'.txt", "x/it''s \"quoted\".txt"]
    with drive_remote(gdrive_server) as remote:
        for index, name in enumerate(names):
            remote.write(name, io.BytesIO(f"body {index}".encode()))
        assert {e.path for e in remote.iter_entries()} == set(names)
        for index, name in enumerate(names):
            assert remote.stat(name).size == len(f"body {index}")
            with remote.open_read(name) as reader:
                assert reader.read() == f"body {index}".encode()
        remote.delete(names[0])
        assert remote.stat(names[0]) is None


def test_a_second_client_sees_the_same_tree(gdrive_server):
    with drive_remote(gdrive_server) as first:
        first.write("shared/one.txt", io.BytesIO(b"1"))
        settings = {**gdrive_server.settings, "root_folder_id": first.root_folder_id}
        with open_remote("gdrive", **settings) as second:
            second.write("shared/one.txt", io.BytesIO(b"2"))
            second.write("shared/two.txt", io.BytesIO(b"22"))
        with first.open_read("shared/one.txt") as reader:
            assert reader.read() == b"2"
        assert {e.path: e.size for e in first.iter_entries()} == {
            "shared/one.txt": 1,
            "shared/two.txt": 2,
        }


def test_write_while_drive_is_down_is_unavailable(gdrive_server, gdrive_remote):
    gdrive_remote.write("before.txt", io.BytesIO(b"kept"))
    gdrive_server.process.stop()
    try:
        with pytest.raises(RemoteUnavailable):
            gdrive_remote.write("during.txt", io.BytesIO(b"never stored"))
        with pytest.raises(RemoteUnavailable):
            gdrive_remote.stat("before.txt")
    finally:
        gdrive_server.process.start()
    # The fake keeps its state (and the issued token) across the restart.
    with gdrive_remote.open_read("before.txt") as reader:
        assert reader.read() == b"kept"
    assert gdrive_remote.stat("during.txt") is None


def test_outage_in_the_middle_of_a_resumable_upload_leaves_nothing(gdrive_server):
    size = 6 * GRANULE
    with drive_remote(gdrive_server, chunk_size=GRANULE) as remote:
        remote.write("big.bin", io.BytesIO(b"previous version"))
        stream = StopAfter(PatternStream(size, seed=11), 3 * GRANULE, gdrive_server.process.stop)
        try:
            with pytest.raises(RemoteUnavailable):
                remote.write("big.bin", stream, size=size)
        finally:
            gdrive_server.process.start()
        assert stream.done < size  # the upload really was cut off half-way
        with remote.open_read("big.bin") as reader:
            assert reader.read() == b"previous version"
        assert [e.path for e in remote.iter_entries()] == ["big.bin"]


def test_threads_share_one_remote_and_create_each_folder_once(gdrive_server):
    names = [f"shared/deep/file{i}.txt" for i in range(8)]
    with drive_remote(gdrive_server) as remote:
        assert remote.stat("warm-up.txt") is None  # root resolved: threads start at the folders
        written: list[str] = []

        def write(name: str) -> None:
            remote.write(name, io.BytesIO(name.encode()))
            written.append(name)

        # Daemon threads with a deadline: a lock-order bug fails the test instead of hanging it.
        threads = [threading.Thread(target=write, args=(n,), daemon=True) for n in names]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 60
        for thread in threads:
            thread.join(max(deadline - time.monotonic(), 0))
        assert sorted(written) == sorted(names)
        # A fresh client resolves each folder by name: had two threads each made "shared",
        # the files in the second one would be invisible to it.
        settings = {**gdrive_server.settings, "root_folder_id": remote.root_folder_id}
        with open_remote("gdrive", **settings) as fresh:
            for name in names:
                assert fresh.stat(name).size == len(name)


def test_remotes_creating_one_folder_at_once_all_keep_the_oldest(gdrive_server, monkeypatch):
    # Issue 17 item 20: several Remote instances (several processes) find no folder "inbox" and
    # each create one. A barrier holds every creator until all of them have looked and found
    # nothing, so they really race; afterwards all must use one folder and no duplicate stays.
    root = make_drive_folder(gdrive_server)
    settings = {**gdrive_server.settings, "root_folder_id": root}
    creators = 4
    everyone_looked = threading.Barrier(creators, timeout=60)
    make_folder = DriveRemote._make_folder

    def make_once_everyone_looked(self, parent: str, name: str) -> str:
        everyone_looked.wait()
        return make_folder(self, parent, name)

    monkeypatch.setattr(DriveRemote, "_make_folder", make_once_everyone_looked)
    remotes = [open_remote("gdrive", **settings) for _ in range(creators)]
    used: dict[int, str] = {}
    failures: list[BaseException] = []

    def create_and_write(index: int) -> None:
        try:
            used[index] = remotes[index].ensure_folder("inbox")
            remotes[index].write(f"inbox/from-{index}.txt", io.BytesIO(b"x" * index))
        except BaseException as exc:
            failures.append(exc)

    threads = [
        threading.Thread(target=create_and_write, args=(i,), daemon=True) for i in range(creators)
    ]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 60
    for thread in threads:
        thread.join(max(deadline - time.monotonic(), 0))
    for remote in remotes:
        remote.close()
    monkeypatch.undo()
    assert not failures and len(used) == creators
    assert len(set(used.values())) == 1, used  # every creator kept the same folder
    with open_remote("gdrive", **settings) as fresh:
        folders = fresh._named(root, "inbox", folders=True)
        assert [item["id"] for item in folders] == list(set(used.values()))  # no duplicate left
        assert {e.path for e in fresh.iter_entries()} == {
            f"inbox/from-{i}.txt" for i in range(creators)
        }


def test_move_is_a_rename_on_drive_not_a_copy(gdrive_server):
    with drive_remote(gdrive_server) as remote:
        original = remote.write("a/src.bin", io.BytesIO(b"payload"))
        remote.write("b/dst.bin", io.BytesIO(b"to be replaced"))
        uploads = fake_stats(gdrive_server).get("multipart_uploads", 0)
        moved = remote.move("a/src.bin", "b/dst.bin")
        assert fake_stats(gdrive_server).get("multipart_uploads", 0) == uploads  # no bytes moved
        assert moved.etag == original.etag  # the same Drive file, renamed and re-parented
        assert moved.modified == original.modified
        assert remote.stat("a/src.bin") is None
        with remote.open_read("b/dst.bin") as reader:
            assert reader.read() == b"payload"
        assert {e.path for e in remote.iter_entries()} == {"b/dst.bin"}
        with pytest.raises(RemoteNotFound):
            remote.move("a/src.bin", "b/other.bin")


def test_a_full_drive_is_remote_full_and_keeps_the_previous_version(gdrive_server):
    with drive_remote(gdrive_server, chunk_size=GRANULE) as remote:
        remote.write("kept.bin", io.BytesIO(b"old"))
        set_fake_quota(gdrive_server, 0)
        try:
            with pytest.raises(RemoteFull):
                remote.write("kept.bin", io.BytesIO(b"new, small"))
            with pytest.raises(RemoteFull):  # resumable: refused when the last chunk arrives
                remote.write("big.bin", PatternStream(3 * GRANULE, seed=5))
        finally:
            set_fake_quota(gdrive_server, None)
        with remote.open_read("kept.bin") as reader:
            assert reader.read() == b"old"
        assert {e.path for e in remote.iter_entries(include_temp=True)} == {"kept.bin"}


def test_a_reader_can_be_consumed_by_another_thread(gdrive_server):
    size = 8 * GRANULE + 3
    with drive_remote(gdrive_server, chunk_size=GRANULE) as remote:
        remote.write("r.bin", PatternStream(size, seed=21), size=size)
        reader = remote.open_read("r.bin")
        digests: list[str] = []
        worker = threading.Thread(target=lambda: digests.append(md5_of_stream(reader)), daemon=True)
        worker.start()
        for index in range(10):  # meanwhile the opening thread keeps using its own connection
            remote.write(f"side-{index}.txt", io.BytesIO(b"x"))
        worker.join(60)
        reader.close()
        assert digests == [pattern_md5(size, seed=21)]
