"""Cloud files: what a killed upload leaves (a staging file, a version's bytes placed before
its row) and what a killed replication leaves in S3 (an unfinished multipart upload) are
removed by the sweep; live versions, objects and young uploads are not touched."""

from __future__ import annotations

import io
import uuid
from datetime import timedelta
from pathlib import Path

import pytest

from syncapp.cloud.models import CloudCopy, CloudVersion
from syncapp.cloud.wiring import sweep_debris
from syncapp.extensions import db
from syncapp.timeutil import utcnow
from tests.cloud.conftest import CloudUser, stored_remote
from tests.debris.conftest import LONG_AGO, backdate, files

MiB = 1024 * 1024


def store_root(app) -> Path:
    return Path(app.instance_path) / "cloud"


def test_a_staging_file_and_a_version_placed_before_its_row_are_removed_once_old(make_app, kill_at):
    app = make_app()
    alice = CloudUser(app, "alice@example.com")
    live = alice.uploaded(b"live bytes", "live.txt")
    token = alice.headers["Authorization"].split()[1]
    kill_at({}, "cloud_staged", token=token)
    kill_at({}, "cloud_placed", token=token)

    root = store_root(app)
    with app.app_context():
        [live_path] = db.session.query(CloudVersion.stored_path).all()[0]
        assert db.session.query(CloudVersion).count() == 1  # the killed uploads have no rows
    debris = files(root) - {live_path}
    [staged] = [p for p in debris if p.startswith(".staging/")]
    [placed] = [p for p in debris if p.endswith("-placed.txt")]
    assert debris == {staged, placed}
    with app.app_context():
        assert sweep_debris() == []  # young: they might be uploads in progress
    assert files(root) == {live_path, staged, placed}

    backdate(*(root / p for p in files(root)))
    young = root / ".staging" / str(alice.id) / uuid.uuid4().hex  # an upload arriving now
    young.write_bytes(b"arriving")
    with app.app_context():
        assert sorted(sweep_debris()) == sorted([staged, placed])
    assert files(root) == {live_path, young.relative_to(root).as_posix()}
    download = alice.get(f"/api/v1/files/{live['file_id']}/versions/1/download")
    assert download.status_code == 200 and download.data == b"live bytes"


@pytest.mark.peer
def test_an_unfinished_multipart_upload_of_a_killed_replication_is_aborted_once_old(
    make_app, kill_at, s3_server
):
    from tests.peers.s3 import admin_client, empty_prefix

    prefix = f"debris-{uuid.uuid4().hex[:12]}"
    sections = {"cloud": {"s3_remote": "cloud-s3"}}
    app = make_app(**sections)
    settings = {**s3_server.settings, "prefix": prefix, "multipart_threshold": 0}
    stored_remote(app, "cloud-s3", "s3", settings)
    client = admin_client(s3_server.settings, timeout=60)
    bucket = s3_server.settings["bucket"]

    def unfinished() -> list[str]:
        listed = client.list_multipart_uploads(Bucket=bucket, Prefix=f"{prefix}/")
        return [upload["Key"] for upload in listed.get("Uploads", [])]

    try:
        # a finished object beside it, which the sweep must leave alone
        client.put_object(Bucket=bucket, Key=f"{prefix}/syncapp/kept.bin", Body=b"kept")
        alice = CloudUser(app, "alice@example.com")
        alice.uploaded(b"r" * (12 * MiB), "big.bin", sync_s3="true")
        kill_at(sections, "replication_mid_upload")
        with app.app_context():
            assert db.session.query(CloudCopy.status).scalar() == "running"  # the dead claim
        [key] = unfinished()
        assert key == f"{prefix}/syncapp/{alice.id}/big.bin"

        with app.app_context():
            assert sweep_debris() == []  # its parts are young: it might be a live upload
            assert unfinished() == [key]
            later = utcnow() + LONG_AGO + timedelta(minutes=1)
            assert sweep_debris(now=later) == [f"s3:syncapp/{alice.id}/big.bin"]
        assert unfinished() == []
        listed = client.list_objects_v2(Bucket=bucket, Prefix=f"{prefix}/")
        assert [item["Key"] for item in listed.get("Contents", [])] == [
            f"{prefix}/syncapp/kept.bin"
        ]
        kept = client.get_object(Bucket=bucket, Key=f"{prefix}/syncapp/kept.bin")["Body"].read()
        assert kept == b"kept"
    finally:
        client.close()
        empty_prefix(s3_server.settings, prefix + "/")


@pytest.mark.peer
def test_an_s3_upload_still_sending_parts_is_not_aborted(s3_server):
    """An upload begun long ago whose last part is recent is alive (a long upload of a big
    file): its age is its newest part's, not its start's."""
    from syncapp.storage import open_remote
    from tests.peers.s3 import admin_client, empty_prefix

    prefix = f"debris-{uuid.uuid4().hex[:12]}"
    remote = open_remote("s3", **{**s3_server.settings, "prefix": prefix})
    client = admin_client(s3_server.settings, timeout=60)
    bucket, key = s3_server.settings["bucket"], f"{prefix}/a/long.bin"
    try:
        upload_id = client.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
        client.upload_part(
            Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=1,
            Body=io.BytesIO(b"p" * (5 * MiB)),
        )  # fmt: skip
        [begun] = client.list_multipart_uploads(Bucket=bucket, Prefix=f"{prefix}/")["Uploads"]
        [part] = client.list_parts(Bucket=bucket, Key=key, UploadId=upload_id)["Parts"]
        threshold = part["LastModified"] - timedelta(seconds=1)
        # moto reports every upload as begun in 2010: long before the threshold
        assert begun["Initiated"] < threshold
        assert remote.sweep_partial("a", older_than=threshold) == []
        after = part["LastModified"] + timedelta(seconds=1)
        assert remote.sweep_partial("b", older_than=after) == []  # only below the prefix given
        assert remote.sweep_partial("a", older_than=after) == ["a/long.bin"]
        listed = client.list_multipart_uploads(Bucket=bucket, Prefix=f"{prefix}/")
        assert listed.get("Uploads", []) == []
    finally:
        client.close()
        remote.close()
        empty_prefix(s3_server.settings, prefix + "/")


@pytest.mark.peer
def test_a_drive_upload_of_a_killed_replication_left_under_its_temp_name_is_removed(
    make_app, kill_at, gdrive_server
):
    from syncapp.cloud.models import GoogleAccount
    from syncapp.cloud.targets import open_target
    from syncapp.security import encrypt_secret
    from syncapp.storage.base import is_temp
    from tests.peers.gdrive import google_settings, make_drive_folder

    sections = {"google": google_settings(gdrive_server)}
    app = make_app(**sections)
    alice = CloudUser(app, "alice@example.com")
    with app.app_context():
        token = encrypt_secret(gdrive_server.settings["refresh_token"])
        folder = make_drive_folder(gdrive_server)
        db.session.add(
            GoogleAccount(user_id=alice.id, refresh_token_encrypted=token, folder_id=folder)
        )
        db.session.commit()
        with open_target("google", alice.id) as drive:  # a finished copy beside it: kept
            drive.write("syncapp/kept.txt", io.BytesIO(b"kept"))
    alice.uploaded(b"drive bytes", "report.txt", sync_google="true")
    kill_at(sections, "replication_before_rename")

    def in_drive() -> list[str]:
        with open_target("google", alice.id) as drive:
            return sorted(e.path for e in drive.iter_entries("syncapp", include_temp=True))

    with app.app_context():
        [temp] = [path for path in in_drive() if is_temp(path)]
        assert temp.endswith("-report.txt")
        # its writer was a process of this host, now dead: no need to wait for an age
        assert sweep_debris() == [f"google:{temp}"]
        assert in_drive() == ["syncapp/kept.txt"]
