"""Cloud files count towards their owner's quota, every kept version of them: an upload that
would pass it answers 507 `quota_exceeded`, and neither a staging copy nor a row is left."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import func, select

from syncapp.cloud.models import CloudFile, CloudVersion
from syncapp.cloud.wiring import cloud_store
from syncapp.extensions import db
from syncapp.failures import InsufficientStorage
from tests.cloud.conftest import MULTIPART, CloudUser, multipart, store_files
from tests.quota_helpers import CountingBody, set_quota, streamed


def versions(app) -> list[tuple[int, str, int, int]]:
    with app.app_context():
        query = (
            select(CloudFile.owner_id, CloudFile.filename, CloudVersion.number, CloudVersion.size)
            .join(CloudVersion, CloudVersion.file_id == CloudFile.id)
            .order_by(CloudVersion.id)
        )
        return [tuple(row) for row in db.session.execute(query)]


def file_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(CloudFile))


@pytest.fixture
def people(cloud_app):
    """Alice with a quota of 2,000 bytes and two 700-byte versions of report.pdf (1,400 used);
    Bob without a quota, with a file of his own."""
    alice = CloudUser(cloud_app, "alice@example.com")
    bob = CloudUser(cloud_app, "bob@example.com")
    alice.uploaded(b"1" * 700, "report.pdf")
    alice.uploaded(b"2" * 700, "report.pdf")
    bob.uploaded(b"b" * 5000, "bobs.bin")
    set_quota(cloud_app, alice.id, 2000)
    return alice, bob


def assert_untouched(app, alice: CloudUser, bob: CloudUser, files, kept) -> None:
    assert store_files(app) == files  # no staging copy left either
    assert versions(app) == kept and file_count(app) == 2
    [report] = alice.get("/api/v1/files").get_json()["files"]
    for number, data in ((1, b"1" * 700), (2, b"2" * 700)):
        got = alice.get(f"/api/v1/files/{report['id']}/versions/{number}/download")
        assert hashlib.md5(got.data).hexdigest() == hashlib.md5(data).hexdigest()
    [bobs] = bob.get("/api/v1/files").get_json()["files"]
    assert bob.get(f"/api/v1/files/{bobs['id']}", download="true").data == b"b" * 5000


def test_every_kept_version_counts(cloud_app, people):
    alice, bob = people
    quota = alice.get("/api/v1/quota").get_json()
    assert quota["usage"]["cloud"] == 1400 and quota["quota_bytes"] == 2000
    assert quota["available_bytes"] == 600 and quota["quota_source"] == "user"
    files, kept = store_files(cloud_app), versions(cloud_app)

    third = alice.upload(b"3" * 700, "report.pdf")  # a third version: 2,100 > 2,000
    assert third.status_code == 507
    assert third.get_json()["error"] == "quota_exceeded" and third.get_json()["used"] == 1400
    other = alice.upload(b"n" * 601, "new.pdf")  # a new file: no row of it is left either
    assert other.status_code == 507
    assert_untouched(cloud_app, alice, bob, files, kept)
    assert alice.uploaded(b"n" * 600, "new.pdf")["version"] == 1  # what is left still fits
    assert bob.uploaded(b"c" * 50_000, "bobs.bin")["version"] == 2  # Alice's quota is hers


def test_a_declared_length_that_cannot_fit_is_refused_before_a_byte_is_read(cloud_app, people):
    alice, bob = people
    files, kept = store_files(cloud_app), versions(cloud_app)
    body = CountingBody(multipart(("file", "big.bin", b"x" * 100_000)))
    reply = streamed(alice.http, "/api/v1/upload", body, MULTIPART, alice.headers)
    assert reply.status_code == 507 and reply.get_json()["error"] == "quota_exceeded"
    assert body.read_bytes == 0
    assert_untouched(cloud_app, alice, bob, files, kept)


def test_a_body_without_a_length_is_stopped_once_it_passes_the_quota(cloud_app, people):
    alice, bob = people
    files, kept = store_files(cloud_app), versions(cloud_app)
    data = multipart(("file", "big.bin", b"x" * 8 * 1024 * 1024))
    body = CountingBody(data)
    reply = streamed(alice.http, "/api/v1/upload", body, MULTIPART, alice.headers, declared=False)
    assert reply.status_code == 507 and reply.get_json()["error"] == "quota_exceeded"
    assert body.read_bytes < len(data) // 2
    assert_untouched(cloud_app, alice, bob, files, kept)


def test_the_quota_is_checked_again_before_the_version_is_recorded(cloud_app, people):
    """A version recorded while this upload streamed (another client of the same user): this
    one must fit with it, else its staging copy goes and nothing is recorded."""
    alice, _ = people
    files = store_files(cloud_app)
    with cloud_app.test_request_context():
        store = cloud_store()
        staged = store.receive(alice.id, iter([b"s" * 500]), "slow.pdf", "application/pdf")
        assert len(store_files(cloud_app)) == len(files) + 1  # its staging copy
        store.commit(alice.id, store.receive(alice.id, iter([b"f" * 300]), "fast.pdf", None))
        kept = versions(cloud_app)
        with pytest.raises(InsufficientStorage) as refused:
            store.commit(alice.id, staged)
        assert refused.value.code == "quota_exceeded"
    assert versions(cloud_app) == kept and kept[-1] == (alice.id, "fast.pdf", 1, 300)
    assert len(store_files(cloud_app)) == len(files) + 1  # fast.pdf's version, no staging copy
    assert file_count(cloud_app) == 3


def test_a_new_version_must_fit_before_older_ones_are_pruned(make_cloud_app):
    """keep_versions removes old versions once a new one is kept: the new one needs room first."""
    app = make_cloud_app(keep_versions=2)
    carol = CloudUser(app, "carol@example.com")
    set_quota(app, carol.id, 1500)
    carol.uploaded(b"1" * 700, "plan.txt")
    carol.uploaded(b"2" * 700, "plan.txt")
    assert carol.upload(b"3" * 700, "plan.txt").status_code == 507
    assert [v[2] for v in versions(app)] == [1, 2]
