"""Hand-made multipart bodies for the security tests."""

from __future__ import annotations

from urllib.parse import quote

from tests.conftest import bearer

BOUNDARY = "security-boundary"


def upload_named(client, path: str, token: str, name: str, data: bytes, **fields: str):
    """A multipart upload whose file name travels as RFC 5987 filename*: any character gets
    through to the server, as a browser's percent-encoded quotes and newlines would."""
    body = b""
    for field, value in fields.items():
        head = f'Content-Disposition: form-data; name="{field}"\r\n\r\n'
        body += f"--{BOUNDARY}\r\n{head}".encode() + value.encode() + b"\r\n"
    head = (
        f"Content-Disposition: form-data; name=\"file\"; filename*=UTF-8''{quote(name, safe='')}"
        "\r\nContent-Type: application/octet-stream\r\n\r\n"
    )
    body += f"--{BOUNDARY}\r\n{head}".encode() + data + f"\r\n--{BOUNDARY}--\r\n".encode()
    content_type = f"multipart/form-data; boundary={BOUNDARY}"
    return client.post(path, headers=bearer(token), data=body, content_type=content_type)
