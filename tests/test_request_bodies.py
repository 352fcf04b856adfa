"""Bodies into pooled buffers (syncapp/bodies.py) and on through receive_into: buffers are
reused while uploads run, and never while a thread still reads one. Under gunicorn, the socket
path is driven by tests/restic/test_restic_client.py and tests/backups/test_interruptions.py
(pipelined and kept-alive requests)."""

from __future__ import annotations

import hashlib
import random
import threading

import pytest
from werkzeug.exceptions import ClientDisconnected

from syncapp import bodies
from syncapp.failures import BadRequest, PayloadTooLarge
from syncapp.multipart import StreamingForm
from syncapp.storage.local import LocalRemote
from syncapp.uploads import receive_into
from tests.test_multipart import ChoppyStream, Part, encode


class PieceSource:
    """A body handed out in random pieces through readinto, like a socket."""

    def __init__(self, data: bytes, rng: random.Random) -> None:
        self._stream = ChoppyStream(data, rng, 300_000)

    def readinto(self, view: memoryview) -> int:
        data = self._stream.read(len(view))
        view[: len(data)] = data
        return len(data)


class KeepingRemote(LocalRemote):
    """A backend that may keep what it reads (as S3's parts): it must get bytes of its own."""

    reads_borrowed = False


def free_buffers() -> list[bodies.PooledBuffer]:
    with bodies._lock:
        return list(bodies._free)


def test_a_buffer_returns_to_the_pool_when_its_last_holder_lets_go():
    buffer = bodies.take()
    view = memoryview(buffer)[:10]
    bodies.hold(view)
    bodies.release(buffer)
    assert all(b is not buffer for b in free_buffers())  # a holder is left
    bodies.release(view)
    assert any(b is buffer for b in free_buffers())
    with pytest.raises(RuntimeError):
        bodies.release(view)
    assert bodies.take() is buffer  # reused
    bodies.hold(b"bytes are nobody's")  # no-ops
    bodies.release(b"bytes are nobody's")


@pytest.mark.parametrize("remote_class", [LocalRemote, KeepingRemote])
def test_uploads_through_reused_buffers_store_the_exact_bytes(tmp_path, remote_class):
    """Many chunks through few buffers, on the MD5 and writer threads: any buffer reused too
    early would change the stored bytes or a digest."""
    rng = random.Random(5)
    remote = remote_class(root=str(tmp_path))
    for n in range(3):
        data = rng.randbytes(9 * bodies.CHUNK_SIZE + rng.randint(0, 99_999))
        chunks = bodies.body_chunks(PieceSource(data, rng))
        received = receive_into(remote, f"f{n}", chunks)
        assert received.size == len(data)
        assert received.md5 == hashlib.md5(data).hexdigest() == received.entry.md5
        assert received.sha256 == hashlib.sha256(data).hexdigest()
        assert (tmp_path / f"f{n}").read_bytes() == data
    free = free_buffers()
    assert 0 < len(free) <= bodies.FREE_KEPT  # reused, and bounded
    assert all(b.refs == 0 for b in free)


def test_without_md5_nothing_is_hashed_but_the_sha256(tmp_path):
    data = random.Random(6).randbytes(3 * bodies.CHUNK_SIZE + 5)
    remote = LocalRemote(root=str(tmp_path))
    chunks = bodies.body_chunks(PieceSource(data, random.Random(7)))
    received = receive_into(
        remote, "obj", chunks, md5=False, expect_sha256=hashlib.sha256(data).hexdigest()
    )
    assert received.md5 == "" and received.entry.md5 is None
    assert (tmp_path / "obj").read_bytes() == data


def test_a_form_part_as_views_through_receive_into(tmp_path):
    """The multipart reader hands out views of its pooled buffers; a refill never overwrites
    one that the threads of receive_into still read."""
    rng = random.Random(8)
    boundary = b"----views" + rng.randbytes(6).hex().encode()
    data = rng.randbytes(7 * bodies.CHUNK_SIZE + 12_345)
    body = encode(
        [Part("file", "a.bin", None, data), Part("note", None, None, b"x")], boundary, rng
    )
    form = StreamingForm(PieceSource(body, rng), boundary)
    remote = LocalRemote(root=str(tmp_path))
    for part in form.parts():
        if part.name == "file":
            received = receive_into(remote, "a.bin", part.views())
        else:
            assert part.read_text(limit=10) == "x"
    assert received.md5 == hashlib.md5(data).hexdigest()
    assert (tmp_path / "a.bin").read_bytes() == data


def _failing(chunks, after: int, error: BaseException):
    """`chunks`, then `error` once `after` of them were handed out (a client that goes away)."""
    for n, chunk in enumerate(chunks):
        if n == after:
            raise error
        yield chunk


def test_without_md5_a_local_write_runs_on_the_request_thread_and_keeps_nothing_it_refuses(
    tmp_path, monkeypatch
):
    """receive_into(md5=False) into a local folder starts no thread: the write pulls each chunk
    on the request thread. A digest that is not the name, a body cut short and a limit each
    raise their own error (not the store's), and leave neither the file nor a temp file."""
    started = []
    start = threading.Thread.start

    def recording_start(self):
        started.append(self.name)
        start(self)

    monkeypatch.setattr(threading.Thread, "start", recording_start)
    rng = random.Random(9)
    data = rng.randbytes(4 * bodies.CHUNK_SIZE + 77)
    digest = hashlib.sha256(data).hexdigest()
    remote = LocalRemote(root=str(tmp_path))

    def body():
        return bodies.body_chunks(PieceSource(data, random.Random(10)))

    with pytest.raises(BadRequest) as refused:
        receive_into(remote, "bad", body(), md5=False, expect_sha256="0" * 64)
    assert refused.value.code == "hash_mismatch"
    cut = ClientDisconnected("gone")
    with pytest.raises(ClientDisconnected) as gone:
        receive_into(remote, "cut", _failing(body(), 2, cut), md5=False, expect_sha256=digest)
    assert gone.value is cut
    with pytest.raises(PayloadTooLarge):
        receive_into(remote, "big", body(), md5=False, limit=len(data) - 1)
    assert list(tmp_path.rglob("*")) == []  # no object, no temp file

    received = receive_into(remote, "ok", body(), md5=False, expect_sha256=digest)
    assert (received.size, received.sha256) == (len(data), digest)
    assert (tmp_path / "ok").read_bytes() == data
    assert [p.name for p in tmp_path.rglob("*")] == ["ok"]
    assert started == []
    assert all(b.refs == 0 for b in free_buffers())
