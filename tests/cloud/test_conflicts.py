"""Conflicts: a cloud copy changed outside syncapp while the file got a new version. Detected
before anything is overwritten, then resolved by each policy, checked by MD5 on both sides."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, replace
from datetime import timedelta

import pytest

from syncapp.cloud.conflicts import remote_md5
from syncapp.cloud.jobs import enqueue_replication
from syncapp.cloud.models import CloudFile
from syncapp.extensions import db
from syncapp.storage.local import LocalRemote
from syncapp.timeutil import parse_iso, utcnow
from tests.cloud.clouds import (  # noqa: F401  (fixtures)
    Clouds,
    clouds_fixture,
    make_clouds_fixture,
    md5_of,
)
from tests.cloud.conftest import CloudUser
from tests.quota_helpers import set_quota

pytestmark = pytest.mark.peer

ORIGINAL = b"quarterly report, as first uploaded\n" * 50
LOCAL = b"quarterly report, edited here and uploaded again\n" * 60
REMOTE = b"quarterly report, edited in the cloud by someone else\n" * 40
CONFLICT_NAME = re.compile(r"^report\.conflict-\d{8}-\d{6}\.pdf$")


@dataclass
class Made:
    file_id: int
    conflict_id: int
    target: str


def make_conflict(clouds: Clouds, target: str = "s3", *, remote_newer: bool = True) -> Made:
    """report.pdf synced to `target`; then a new local version, and someone else's change to
    the cloud copy, made later or earlier than the local one."""
    first = clouds.upload(ORIGINAL, "report.pdf", target)
    assert [r.status for r in clouds.replicate()] == ["completed"]
    second = clouds.upload(LOCAL, "report.pdf", target)
    assert second["version"] == 2
    local_time = clouds.versions(first["file_id"])[-1].modified_at
    shift = timedelta(hours=1)
    moment = local_time + shift if remote_newer else local_time - shift
    clouds.write_in_cloud(first["file_id"], target, REMOTE, moment)

    results = clouds.replicate()

    assert [r.status for r in results] == ["conflict"]
    [conflict] = clouds.user.get("/api/v1/conflicts", resolved="false").get_json()["conflicts"]
    return Made(first["file_id"], conflict["id"], target)


def resolve(clouds: Clouds, conflict_id: int, **body):
    return clouds.user.http.post(
        f"/api/v1/conflicts/{conflict_id}/resolve", headers=clouds.user.headers, json=body
    )


def resolved(clouds: Clouds, conflict_id: int, **body) -> dict:
    response = resolve(clouds, conflict_id, **body)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_a_conflict_is_recorded_instead_of_overwriting_the_cloud(clouds: Clouds):
    made = make_conflict(clouds)

    assert clouds.cloud_md5(made.file_id, "s3") == md5_of(REMOTE)  # not overwritten
    copy = clouds.copy(made.file_id, "s3")
    assert (copy.status, copy.synced_version) == ("conflict", 1)
    assert f"conflict {made.conflict_id}" in copy.last_error
    view = clouds.user.get(f"/api/v1/conflicts/{made.conflict_id}").get_json()
    assert view["filename"] == "report.pdf" and view["target"] == "s3"
    assert view["local"]["version"] == 2
    assert (view["local"]["size"], view["local"]["md5"]) == (len(LOCAL), md5_of(LOCAL))
    assert (view["remote"]["size"], view["remote"]["md5"]) == (len(REMOTE), md5_of(REMOTE))
    local_time, remote_time = (parse_iso(view[s]["modified"]) for s in ("local", "remote"))
    assert remote_time - local_time == timedelta(hours=1)
    assert view["resolved"] is False and view["outcome"] is None
    assert clouds.user.get("/api/v1/conflicts", resolved="true").get_json()["conflicts"] == []
    assert clouds.replicate() == []  # nothing is retried over it meanwhile


def test_last_write_keeps_the_newer_cloud_copy_as_a_new_local_version(clouds: Clouds):
    made = make_conflict(clouds, remote_newer=True)

    view = resolved(clouds, made.conflict_id, policy="last-write", notes="theirs is newer")

    assert (view["resolved"], view["policy"], view["keep"]) == (True, "last-write", "remote")
    assert view["notes"] == "theirs is newer" and view["resolved_at"]
    assert clouds.current_version(made.file_id) == 3
    assert clouds.local_md5(made.file_id) == md5_of(REMOTE)
    assert clouds.versions(made.file_id)[-1].origin == "s3-conflict"
    assert clouds.local_md5(made.file_id, 2) == md5_of(LOCAL)  # the edit here is kept as v2
    assert clouds.cloud_md5(made.file_id, "s3") == md5_of(REMOTE)
    assert view["outcome"]["cloud"] == {"target": "s3", "version": 3, "md5": md5_of(REMOTE)}
    copy = clouds.copy(made.file_id, "s3")
    assert (copy.status, copy.synced_version) == ("completed", 3)

    # In sync again: the next version goes up without a conflict.
    later = clouds.upload(b"after the conflict", "report.pdf", "s3")
    assert [r.status for r in clouds.replicate()] == ["completed"]
    assert clouds.cloud_md5(made.file_id, "s3") == md5_of(b"after the conflict")
    assert clouds.job(later["job_id"])["status"] == "completed"


def test_last_write_uploads_the_newer_local_version(clouds: Clouds):
    made = make_conflict(clouds, remote_newer=False)

    view = resolved(clouds, made.conflict_id, policy="last-write")

    assert view["keep"] == "local"
    assert clouds.cloud_md5(made.file_id, "s3") == md5_of(LOCAL)
    assert (clouds.current_version(made.file_id), clouds.local_md5(made.file_id)) == (
        2, md5_of(LOCAL),
    )  # fmt: skip
    assert [v.number for v in clouds.versions(made.file_id)] == [1, 2]
    assert view["outcome"]["cloud"]["md5"] == md5_of(LOCAL)


def test_keep_both_downloads_the_cloud_copy_as_a_conflict_file(clouds: Clouds):
    made = make_conflict(clouds)

    view = resolved(clouds, made.conflict_id, policy="keep-both")

    assert (view["policy"], view["keep"], view["outcome"]["winner"]) == ("keep-both", None, "both")
    assert clouds.cloud_md5(made.file_id, "s3") == md5_of(LOCAL)
    assert clouds.local_md5(made.file_id) == md5_of(LOCAL)
    kept = view["outcome"]["conflict_file"]
    assert CONFLICT_NAME.match(kept["filename"]), kept["filename"]
    assert kept["file_id"] != made.file_id
    assert clouds.local_md5(kept["file_id"]) == kept["md5"] == md5_of(REMOTE)
    [theirs] = clouds.versions(kept["file_id"])
    assert theirs.origin == "s3-conflict"
    assert theirs.modified_at == parse_iso(view["remote"]["modified"])  # the cloud's own time
    names = {f["filename"] for f in clouds.user.get("/api/v1/files").get_json()["files"]}
    assert names == {"report.pdf", kept["filename"]}


def test_keeping_the_clouds_copy_must_fit_in_the_quota(clouds: Clouds):
    """Bringing the cloud's copy back keeps its bytes here: over the quota, 507 and the conflict
    stays open, with nothing kept and the cloud's copy untouched."""
    made = make_conflict(clouds)
    used = len(ORIGINAL) + len(LOCAL)
    set_quota(clouds.app, clouds.user.id, used + len(REMOTE) - 1)

    for body in ({"policy": "keep-both"}, {"policy": "manual", "keep": "remote"}):
        response = resolve(clouds, made.conflict_id, **body)
        assert response.status_code == 507, response.get_json()
        assert response.get_json()["error"] == "quota_exceeded"
    view = clouds.user.get(f"/api/v1/conflicts/{made.conflict_id}").get_json()
    assert view["resolved"] is False
    assert [f["filename"] for f in clouds.user.get("/api/v1/files").get_json()["files"]] == [
        "report.pdf"
    ]
    assert [v.number for v in clouds.versions(made.file_id)] == [1, 2]
    assert clouds.cloud_md5(made.file_id, "s3") == md5_of(REMOTE)
    assert clouds.user.get("/api/v1/quota").get_json()["used_bytes"] == used
    set_quota(clouds.app, clouds.user.id, used + len(REMOTE))  # exactly enough
    assert resolved(clouds, made.conflict_id, policy="keep-both")["outcome"]["winner"] == "both"


@pytest.mark.parametrize(
    ("target", "keep"),
    [("s3", "local"), ("s3", "remote"), ("azure", "remote"), ("google", "local")],
)
def test_manual_keeps_the_side_chosen(clouds: Clouds, target: str, keep: str):
    made = make_conflict(clouds, target, remote_newer=keep == "local")  # whatever is older wins
    winner = {"local": LOCAL, "remote": REMOTE}[keep]

    view = resolved(clouds, made.conflict_id, policy="manual", keep=keep)

    assert (view["policy"], view["keep"]) == ("manual", keep)
    assert clouds.cloud_md5(made.file_id, target) == md5_of(winner)
    assert clouds.local_md5(made.file_id) == md5_of(winner)
    assert clouds.copy(made.file_id, target).status == "completed"


def test_resolving_is_idempotent_and_another_policy_is_refused(clouds: Clouds):
    made = make_conflict(clouds)
    first = resolved(clouds, made.conflict_id, policy="manual", keep="remote", notes="theirs")
    versions = [v.number for v in clouds.versions(made.file_id)]

    again = resolved(clouds, made.conflict_id, policy="manual", keep="remote")

    assert again == first
    assert [v.number for v in clouds.versions(made.file_id)] == versions  # nothing done twice
    for body in ({"policy": "manual", "keep": "local"}, {"policy": "keep-both"}):
        response = resolve(clouds, made.conflict_id, **body)
        assert response.status_code == 409
        assert response.get_json()["error"] == "already_resolved"
    listed = clouds.user.get("/api/v1/conflicts", resolved="true").get_json()["conflicts"]
    assert [c["id"] for c in listed] == [made.conflict_id]
    assert clouds.user.get("/api/v1/conflicts", resolved="false").get_json()["conflicts"] == []


def test_bad_resolutions_are_400_and_change_nothing(clouds: Clouds):
    made = make_conflict(clouds)
    for body in (
        {"policy": "newest"},
        {"policy": "manual"},
        {"policy": "manual", "keep": "both"},
        {},
    ):
        response = resolve(clouds, made.conflict_id, **body)
        assert response.status_code == 400, body
        assert response.get_json()["status"] == "error"
    view = clouds.user.get(f"/api/v1/conflicts/{made.conflict_id}").get_json()
    assert view["resolved"] is False
    assert clouds.cloud_md5(made.file_id, "s3") == md5_of(REMOTE)


def test_another_users_conflict_is_404(clouds: Clouds):
    made = make_conflict(clouds)
    bob = CloudUser(clouds.app, "bob@example.com", role="admin")

    assert bob.get(f"/api/v1/conflicts/{made.conflict_id}").status_code == 404
    response = bob.http.post(
        f"/api/v1/conflicts/{made.conflict_id}/resolve",
        headers=bob.headers,
        json={"policy": "manual", "keep": "local"},
    )
    assert response.status_code == 404
    assert bob.get("/api/v1/conflicts").get_json()["conflicts"] == []
    assert clouds.cloud_md5(made.file_id, "s3") == md5_of(REMOTE)  # untouched
    assert clouds.user.http.get(f"/api/v1/conflicts/{made.conflict_id}").status_code == 401


def test_a_cloud_changed_without_a_new_local_version_is_left_alone(clouds: Clouds):
    reply = clouds.upload(ORIGINAL, "report.pdf", "s3")
    clouds.replicate()
    clouds.write_in_cloud(reply["file_id"], "s3", REMOTE, utcnow())
    with clouds.app.app_context():  # version 1 asked for again (there is nothing newer)
        file = db.session.get(CloudFile, reply["file_id"])
        enqueue_replication(file, file.versions[0], ["s3"])

    assert [r.status for r in clouds.replicate()] == ["completed"]

    assert clouds.cloud_md5(reply["file_id"], "s3") == md5_of(REMOTE)
    copy = clouds.copy(reply["file_id"], "s3")
    assert "changed outside syncapp" in copy.last_error and copy.synced_version == 1
    assert clouds.user.get("/api/v1/conflicts").get_json()["conflicts"] == []


def test_a_cloud_that_reports_no_md5_has_its_copy_read_to_compare(tmp_path):
    remote = LocalRemote(root=str(tmp_path))
    remote.write("blob.bin", io.BytesIO(REMOTE * 30000))  # several chunks: the threaded hash
    entry = remote.stat("blob.bin")
    assert remote_md5(remote, replace(entry, md5=None)) == md5_of(REMOTE * 30000)
    assert remote_md5(remote, replace(entry, md5="f" * 32)) == "f" * 32  # the service's word
