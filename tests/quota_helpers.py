"""Per-user quotas in the tests: setting one as an administrator would, and request bodies that
count what the server read of them."""

from __future__ import annotations

import io

from tests.conftest import bearer, make_token, make_user


def set_quota(app, user_id: int, quota: int | None) -> dict:
    """PATCH /api/v1/users/<id> quota_bytes, as an administrator (made on first use)."""
    from syncapp.auth.accounts import find_user

    with app.app_context():
        if find_user("quota-admin@example.com") is None:
            make_user(app, "quota-admin@example.com", role="admin")
    token = make_token(app, "quota-admin@example.com")
    reply = app.test_client().patch(
        f"/api/v1/users/{user_id}", json={"quota_bytes": quota}, headers=bearer(token)
    )
    assert reply.status_code == 200, reply.get_json()
    return reply.get_json()


class CountingBody(io.BytesIO):
    """A request body that remembers how many of its bytes the server read."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.read_bytes = 0

    def read(self, size: int | None = -1) -> bytes:
        data = super().read(size)
        self.read_bytes += len(data)
        return data

    def read1(self, size: int | None = -1) -> bytes:
        data = super().read1(size)
        self.read_bytes += len(data)
        return data

    def readline(self, size: int | None = -1) -> bytes:
        data = super().readline(size)
        self.read_bytes += len(data)
        return data

    def readinto(self, buffer) -> int:
        count = super().readinto(buffer)
        self.read_bytes += count
        return count


def streamed(client, path: str, body: CountingBody, content_type: str, headers: dict, *,
             declared: bool = True):  # fmt: skip
    """POST `body` as a stream, with its Content-Length declared or without one (as a chunked
    request reaches the app: read to its end)."""
    overrides = {} if declared else {"CONTENT_LENGTH": "", "wsgi.input_terminated": True}
    return client.post(
        path, input_stream=body, content_type=content_type, headers=headers,
        environ_overrides=overrides,
    )  # fmt: skip
