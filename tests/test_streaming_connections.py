"""A streaming upload does not hold a pooled database connection while its body arrives
(bench/load.py found 50 concurrent uploads exhausting the pool: 503 database_unavailable)."""

from __future__ import annotations

import io
import threading

from tests.backups.helpers import make_archive
from tests.conftest import bearer, make_token, make_user

BOUNDARY = "load-test-boundary"


def multipart(data: bytes, name: str) -> tuple[bytes, bytes]:
    """The form split in two: everything up to the middle of the file, and the rest."""
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="type"\r\n\r\nFULL\r\n'
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
        "Content-Type: application/gzip\r\n\r\n"
    ).encode()
    body = head + data + f"\r\n--{BOUNDARY}--\r\n".encode()
    middle = len(head) + len(data) // 2
    return body[:middle], body[middle:]


class PausingStream(io.RawIOBase):
    """A request body that stops half-way until the test lets it go on, like a slow client."""

    def __init__(self, first: bytes, rest: bytes) -> None:
        self.parts = [first, rest]
        self.size = len(first) + len(rest)
        self.position = 0  # only for werkzeug's test client, which measures the body first
        self.paused = threading.Event()
        self.resume = threading.Event()

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self.position = self.size if whence == io.SEEK_END else offset
        return self.position

    def readinto(self, buffer) -> int:
        if not self.parts[0]:
            self.parts.pop(0)
            if not self.parts:
                return 0
            self.paused.set()
            assert self.resume.wait(30)
        part = self.parts[0]
        count = min(len(buffer), len(part))
        buffer[:count] = part[:count]
        self.parts[0] = part[count:]
        self.position += count
        return count


def test_a_stalled_upload_leaves_the_only_connection_to_other_requests(make_app):
    # One connection in the pool, and a short wait for it: a request that finds it taken fails.
    app = make_app(SQLALCHEMY_ENGINE_OPTIONS={"pool_size": 1, "max_overflow": 0, "pool_timeout": 2})
    make_user(app, "slow@example.com")
    token = make_token(app, "slow@example.com")
    first, rest = multipart(make_archive(51, size=300_000), "full_51.tar.gz")
    stream = PausingStream(first, rest)
    replies: dict[str, object] = {}

    def upload() -> None:
        replies["upload"] = app.test_client().post(
            "/upload",
            input_stream=stream,
            content_length=len(first) + len(rest),
            content_type=f"multipart/form-data; boundary={BOUNDARY}",
            headers=bearer(token),
        )

    uploader = threading.Thread(target=upload)
    uploader.start()
    try:
        assert stream.paused.wait(30), "the upload never started reading its body"
        listing = app.test_client().get("/list", headers=bearer(token))
    finally:
        stream.resume.set()
        uploader.join(60)
    assert listing.status_code == 200, listing.get_json()
    upload_reply = replies["upload"]
    assert upload_reply.status_code == 201, upload_reply.get_json()
    assert upload_reply.get_json()["file"] == "full_51.tar.gz"
