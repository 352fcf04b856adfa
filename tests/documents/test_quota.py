"""Documents count towards their owner's quota: an upload that would pass it answers 507
`quota_exceeded` and leaves nothing behind, whichever check stops it (the declared length before
a byte is read, the bytes while they arrive, the size before the document is recorded)."""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path

import pytest

from syncapp.documents.models import Document
from syncapp.documents.wiring import document_store
from syncapp.extensions import db
from tests.conftest import bearer, make_token, make_user
from tests.documents.helpers import upload, uploaded
from tests.quota_helpers import CountingBody, set_quota, streamed

BOUNDARY = "quota-boundary"
FORM = f"multipart/form-data; boundary={BOUNDARY}"


def form(data: bytes, name: str = "big.pdf") -> bytes:
    return (
        (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="type"\r\n\r\ninvoice\r\n'
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            "Content-Type: application/pdf\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )


def stored_files(app) -> dict[str, bytes]:
    root = Path(app.instance_path) / "documents"
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def rows(app) -> list[tuple[int, str, int]]:
    with app.app_context():
        found = db.session.query(Document).order_by(Document.id)
        return [(d.owner_id, d.filename, d.size) for d in found]


@pytest.fixture
def people(app):
    """Alice (quota 10,000 bytes, 6,000 used) and Bob (no quota, one document)."""
    alice, bob = make_user(app, "alice@example.com"), make_user(app, "bob@example.com")
    tokens = make_token(app, "alice@example.com"), make_token(app, "bob@example.com")
    client = app.test_client()
    uploaded(client, tokens[0], b"a" * 6000, "kept.pdf")
    uploaded(client, tokens[1], b"b" * 50_000, "bobs.pdf")
    set_quota(app, alice, 10_000)
    return client, alice, bob, tokens


def assert_untouched(app, client, tokens, before_files, before_rows) -> None:
    assert stored_files(app) == before_files and rows(app) == before_rows
    for token, name, data in ((tokens[0], "kept.pdf", b"a" * 6000),
                              (tokens[1], "bobs.pdf", b"b" * 50_000)):  # fmt: skip
        [doc] = client.get("/api/v1/documents", headers=bearer(token)).get_json()["documents"]
        assert doc["filename"] == name
        got = client.get(f"/api/v1/documents/{doc['id']}/download", headers=bearer(token))
        assert hashlib.sha256(got.data).digest() == hashlib.sha256(data).digest()


def test_an_upload_past_the_quota_is_507_and_keeps_nothing(app, people):
    client, _, _, tokens = people
    files, before = stored_files(app), rows(app)
    refused = upload(client, tokens[0], b"x" * 4001, "one-too-many.pdf")
    assert refused.status_code == 507
    body = refused.get_json()
    assert body["error"] == "quota_exceeded" and body["quota"] == 10_000 and body["used"] == 6000
    assert "quota" in body["message"]
    assert_untouched(app, client, tokens, files, before)
    # Exactly what is left still fits; Bob, without a quota, is not limited by Alice's.
    assert upload(client, tokens[0], b"x" * 4000, "fits.pdf").status_code == 201
    assert upload(client, tokens[1], b"y" * 100_000, "large.pdf").status_code == 201


def test_a_declared_length_that_cannot_fit_is_refused_before_a_byte_is_read(app, people):
    client, _, _, tokens = people
    files, before = stored_files(app), rows(app)
    body = CountingBody(form(b"x" * 200_000))
    reply = streamed(client, "/api/v1/documents", body, FORM, bearer(tokens[0]))
    assert reply.status_code == 507 and reply.get_json()["error"] == "quota_exceeded"
    assert body.read_bytes == 0
    assert_untouched(app, client, tokens, files, before)


def test_a_body_without_a_length_is_stopped_once_it_passes_the_quota(app, people):
    client, _, _, tokens = people
    files, before = stored_files(app), rows(app)
    data = form(b"x" * 8 * 1024 * 1024)
    body = CountingBody(data)
    reply = streamed(client, "/api/v1/documents", body, FORM, bearer(tokens[0]), declared=False)
    assert reply.status_code == 507 and reply.get_json()["error"] == "quota_exceeded"
    assert body.read_bytes < len(data) // 2  # stopped early, not read to the end and refused
    assert_untouched(app, client, tokens, files, before)


def test_the_quota_is_checked_again_before_the_document_is_recorded(app, people):
    """Another upload of the same user recorded while this one streamed: this one must fit
    with it, else it is removed again."""
    _, alice, _, _ = people
    files, before = stored_files(app), rows(app)
    with app.test_request_context():
        store = document_store()
        stored = store.receive(alice, iter([b"r" * 3000]), "racing.pdf", "application/pdf")
        assert stored.path in stored_files(app)
        db.session.add(
            Document(owner_id=alice, type="invoice", document_date=date.today(),
                     filename="meanwhile.pdf", content_type="application/pdf",
                     stored_path="elsewhere", size=2000, md5="0" * 32, synced_to_nas=False)
        )  # fmt: skip
        db.session.commit()
        with pytest.raises(Exception) as refused:
            store.create(alice, stored, kind="invoice", document_date=None)
        assert getattr(refused.value, "code", None) == "quota_exceeded"
    assert stored_files(app) == files  # the received file is gone again
    assert rows(app) == [*before, (alice, "meanwhile.pdf", 2000)]


def test_the_servers_quota_applies_unless_the_user_has_their_own(make_app):
    app = make_app(quota={"per_user": 5000})
    user = make_user(app, "carol@example.com")
    token = make_token(app, "carol@example.com")
    client = app.test_client()
    assert upload(client, token, b"c" * 5001, "over.pdf").status_code == 507
    set_quota(app, user, 20_000)
    assert upload(client, token, b"c" * 15_000, "within.pdf").status_code == 201
    set_quota(app, user, None)  # back to the server's
    refused = upload(client, token, b"c" * 10, "tiny.pdf")
    assert refused.status_code == 507 and refused.get_json()["used"] == 15_000


def test_deleting_a_document_gives_its_room_back(app, people):
    client, _, _, tokens = people
    headers = bearer(tokens[0])
    assert client.get("/api/v1/quota", headers=headers).get_json()["usage"]["documents"] == 6000
    assert upload(client, tokens[0], b"x" * 5000, "next.pdf").status_code == 507
    [doc] = client.get("/api/v1/documents", headers=headers).get_json()["documents"]
    assert client.delete(f"/api/v1/documents/{doc['id']}", headers=headers).status_code == 204
    assert client.get("/api/v1/quota", headers=headers).get_json()["used_bytes"] == 0
    assert upload(client, tokens[0], b"x" * 5000, "next.pdf").status_code == 201
