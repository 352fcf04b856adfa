"""POST /api/v1/files/<id>/versions/<n>/restore: an old version becomes the current one again,
as a new version with the old bytes (the history kept), replicated like an upload."""

from __future__ import annotations

import hashlib
from pathlib import Path

from syncapp.cloud.models import CloudCopy, CloudFile
from syncapp.cloud.replicator import replicate_due
from syncapp.cloud.targets import open_target
from syncapp.extensions import db
from tests.cloud.clouds import read_md5
from tests.cloud.conftest import CloudUser


def md5_of(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def restore(user: CloudUser, file_id: int, number: int):
    return user.http.post(
        f"/api/v1/files/{file_id}/versions/{number}/restore", headers=user.headers
    )


def test_an_old_version_comes_back_as_a_new_one_and_is_replicated(s3_cloud):
    alice = CloudUser(s3_cloud, "alice@example.com")
    first = alice.uploaded(b"plan, version one", "plan.txt", sync_s3="true")
    assert {r.status for r in replicate_due(s3_cloud)} == {"completed"}
    alice.uploaded(b"plan, version two is longer", "plan.txt")  # the s3 copy follows it
    replicate_due(s3_cloud)
    file_id = first["file_id"]

    reply = restore(alice, file_id, 1)
    assert reply.status_code == 202, reply.get_json()
    body = reply.get_json()
    assert body["version"] == 3 and body["created_version"] is True
    assert "version 1 was restored as version 3" in body["message"]
    # the history is whole, the restored version says where it came from
    versions = alice.get(f"/api/v1/files/{file_id}/versions").get_json()
    assert versions["current_version"] == 3
    assert [(v["number"], v["origin"]) for v in versions["versions"]] == [
        (3, "restore-v1"),
        (2, "upload"),
        (1, "upload"),
    ]
    assert versions["versions"][0]["md5"] == md5_of(b"plan, version one")
    current = alice.get(f"/api/v1/files/{file_id}", download="true")
    assert current.status_code == 200 and current.data == b"plan, version one"
    # replication is queued for the cloud that holds the file, as for an upload
    with s3_cloud.app_context():
        copy = db.session.scalar(db.select(CloudCopy).where(CloudCopy.file_id == file_id))
        assert (copy.target, copy.status, copy.wanted_version) == ("s3", "pending", 3)
        assert copy.job_id == body["job_id"]
    assert {r.status for r in replicate_due(s3_cloud)} == {"completed"}
    status = alice.get(f"/api/v1/status/{body['job_id']}").get_json()
    assert status["status"] == "completed"
    with s3_cloud.app_context():
        copy = db.session.scalar(db.select(CloudCopy).where(CloudCopy.file_id == file_id))
        assert copy.synced_version == 3
        with open_target("s3", alice.id) as cloud:
            assert read_md5(cloud, copy.remote_path) == md5_of(b"plan, version one")


def test_restoring_the_current_content_makes_nothing_new(cloud_app):
    alice = CloudUser(cloud_app, "alice@example.com")
    first = alice.uploaded(b"same", "same.txt")
    alice.uploaded(b"other", "same.txt")
    alice.uploaded(b"same", "same.txt")  # version 3 holds version 1's bytes
    reply = restore(alice, first["file_id"], 1)
    assert reply.status_code == 202
    assert reply.get_json()["created_version"] is False and reply.get_json()["version"] == 3
    again = restore(alice, first["file_id"], 3)
    assert again.get_json()["created_version"] is False
    versions = alice.get(f"/api/v1/files/{first['file_id']}/versions").get_json()
    assert [v["number"] for v in versions["versions"]] == [3, 2, 1]


def test_unknown_versions_and_other_users_files_are_missing(cloud_app):
    alice = CloudUser(cloud_app, "alice@example.com")
    bob = CloudUser(cloud_app, "bob@example.com")
    first = alice.uploaded(b"one", "mine.txt")
    alice.uploaded(b"two", "mine.txt")
    missing = restore(alice, first["file_id"], 9)
    assert missing.status_code == 404 and missing.get_json()["error"] == "version_not_found"
    refused = restore(bob, first["file_id"], 1)
    assert refused.status_code == 404 and refused.get_json()["error"] == "file_not_found"
    assert (
        alice.http.post(f"/api/v1/files/{first['file_id']}/versions/1/restore").status_code == 401
    )
    admin = CloudUser(cloud_app, "root@example.com", role="admin")
    assert restore(admin, first["file_id"], 1).get_json()["version"] == 3


def test_a_damaged_stored_version_is_refused_and_nothing_changes(cloud_app):
    alice = CloudUser(cloud_app, "alice@example.com")
    first = alice.uploaded(b"original bytes", "doc.txt")
    alice.uploaded(b"newer bytes!", "doc.txt")
    with cloud_app.app_context():
        file = db.session.get(CloudFile, first["file_id"])
        [old] = [v for v in file.versions if v.number == 1]
        path = Path(cloud_app.instance_path) / "cloud" / old.stored_path
    path.write_bytes(b"original bytez")
    reply = restore(alice, first["file_id"], 1)
    assert reply.status_code == 409 and reply.get_json()["error"] == "checksum_mismatch"
    versions = alice.get(f"/api/v1/files/{first['file_id']}/versions").get_json()
    assert versions["current_version"] == 2 and len(versions["versions"]) == 2
    staging = Path(cloud_app.instance_path) / "cloud" / ".staging"
    assert not [p for p in staging.rglob("*") if p.is_file()]
