"""POST /upload: seed 003's replies, and every bad input refused with the store left untouched."""

from __future__ import annotations

import io
import json

import pytest

from tests.backups.helpers import make_archive, md5, store_tree, upload
from tests.conftest import bearer

NAME = "full_2025-11-21_09-07-19.tar.gz"


@pytest.fixture
def store_root(tmp_path):
    return tmp_path / "remote_backups"


def test_upload_answers_201_with_the_seed_fields(client, admin_token, store_root):
    """A one-user install (its administrator) keeps the seed's layout: <TYPE>/<name>."""
    data = make_archive(1)
    response = upload(
        client, admin_token, data, NAME, type="FULL", profile="document", md5=md5(data)
    )
    assert response.status_code == 201
    body = response.get_json()
    assert body["status"] == "success"
    assert body["file"] == NAME and body["type"] == "FULL" and body["md5"] == md5(data)
    assert body["size"].endswith(" B") or body["size"].endswith(" KB")
    assert body["message"]
    assert (store_root / "FULL" / NAME).read_bytes() == data
    sidecar = json.loads((store_root / "FULL" / f"{NAME}.meta.json").read_text())
    assert sidecar["md5"] == md5(data) and sidecar["profile"] == "document"
    assert sidecar["size"] == len(data) and len(sidecar["sha256"]) == 64
    assert sidecar["uploaded_at"].endswith("Z") and sidecar["uploader"] == "root@example.com"
    assert sidecar["owner"]["email"] == "root@example.com" and body["path"] == f"FULL/{NAME}"


def test_type_is_case_insensitive_and_defaults_apply(client, token):
    body = upload(client, token, make_archive(2), "inc_1.tar.gz", type="inc").get_json()
    assert body["type"] == "INC" and body["profile"] == "unknown"
    body = upload(client, token, make_archive(3), "full_2.tar.gz").get_json()
    assert body["type"] == "FULL"


def test_incremental_archives_record_the_full_they_build_on(client, token):
    upload(client, token, make_archive(4), "full_a.tar.gz", type="FULL", profile="p")
    upload(client, token, make_archive(5), "full_b.tar.gz", type="FULL", profile="p")
    upload(client, token, make_archive(6), "full_other.tar.gz", type="FULL", profile="q")
    body = upload(
        client, token, make_archive(7), "diff_a.tar.gz", type="DIFF", profile="p"
    ).get_json()
    assert body["base_archive"] == "full_b.tar.gz"


def test_the_same_archive_again_is_201_already_stored_and_rewrites_nothing(
    client, token, store_root
):
    """201 again (it was 200): the original upload.sh counts only 201 as success (issue 17)."""
    data = make_archive(8)
    first = upload(client, token, data, NAME)
    assert first.status_code == 201 and first.get_json()["already_stored"] is False
    before = store_tree(store_root)
    again = upload(client, token, data, NAME, md5=md5(data))
    assert again.status_code == 201
    assert again.get_json()["already_stored"] is True and again.get_json()["duplicate"] is True
    assert again.get_json()["md5"] == md5(data)
    assert store_tree(store_root) == before


def test_the_same_name_with_other_content_is_409_and_keeps_the_stored_one(
    client, token, store_root
):
    upload(client, token, make_archive(9), NAME)
    before = store_tree(store_root)
    response = upload(client, token, make_archive(10), NAME)
    assert response.status_code == 409
    assert response.get_json()["code"] == "archive_exists"
    assert store_tree(store_root) == before


def refused(client, token, store_root, status, **kwargs):
    upload(client, token, make_archive(99), "full_existing.tar.gz")
    before = store_tree(store_root)
    data = kwargs.pop("data", make_archive(11))
    name = kwargs.pop("name", NAME)
    response = upload(client, token, data, name, **kwargs)
    assert response.status_code == status, response.get_json()
    body = response.get_json()
    assert body["status"] == "error" and body["error"] and body["message"]
    assert store_tree(store_root) == before, "a refused upload must leave the store as it was"
    return body


def test_a_wrong_md5_is_400_and_stores_nothing(client, token, store_root):
    body = refused(client, token, store_root, 400, md5="0" * 32)
    assert body["code"] == "md5_mismatch"


@pytest.mark.parametrize("kind", ["WEEKLY", "full;rm"])
def test_an_unknown_type_is_400(client, token, store_root, kind):
    assert refused(client, token, store_root, 400, type=kind)["code"] == "invalid_type"


@pytest.mark.parametrize(
    "name",
    ["../evil.tar.gz", "sub/dir.tar.gz", "has space.tar.gz", "archive.zip", ".hidden.tar.gz"],
)
def test_unsafe_or_wrong_file_names_are_400(client, token, store_root, name):
    assert refused(client, token, store_root, 400, name=name)["code"] == "invalid_name"


def test_content_that_is_not_gzip_is_400(client, token, store_root):
    body = refused(client, token, store_root, 400, data=b"PK\x03\x04 not a tarball")
    assert body["code"] == "not_gzip"


@pytest.mark.parametrize("profile", ["a/b", "../x", "x" * 65, "semi;colon"])
def test_unsafe_profiles_are_400(client, token, store_root, profile):
    assert refused(client, token, store_root, 400, profile=profile)["code"] == "invalid_profile"


def test_a_request_without_a_file_is_400(client, token):
    response = client.post(
        "/upload", headers=bearer(token), data={"type": "FULL"}, content_type="multipart/form-data"
    )
    assert response.status_code == 400
    assert response.get_json()["code"] == "no_file"


def test_a_body_that_is_not_multipart_is_400(client, token):
    response = client.post("/upload", headers=bearer(token), data=b"raw", content_type="text/plain")
    assert response.status_code == 400


def test_a_declared_size_over_the_limit_is_413_before_reading(make_app, tmp_path):
    app = make_app(backups={"max_size": 1000})
    from tests.conftest import make_token, make_user

    make_user(app, "a@example.com")
    token = make_token(app, "a@example.com")
    client = app.test_client()
    response = upload(client, token, make_archive(12, size=200_000) + b"\0" * 70_000, NAME)
    assert response.status_code == 413
    assert store_tree(tmp_path / "remote_backups") == {}


def test_a_body_over_the_limit_is_stopped_while_streaming(make_app, tmp_path):
    app = make_app(backups={"max_size": 5000})
    from tests.conftest import make_token, make_user

    make_user(app, "a@example.com")
    token = make_token(app, "a@example.com")
    client = app.test_client()
    # within the framing allowance of Content-Length, so only the streaming count can catch it
    data = make_archive(13) + bytes(20_000)
    response = upload(client, token, data, NAME)
    assert response.status_code == 413
    assert [p for p in store_tree(tmp_path / "remote_backups") if not p.startswith(".")] == []
    assert store_tree(tmp_path / "remote_backups") == {}


def test_a_profile_over_its_quota_is_507(make_app, tmp_path):
    app = make_app(backups={"profile_quota": 3000})
    from tests.conftest import make_token, make_user

    make_user(app, "a@example.com")
    token = make_token(app, "a@example.com")
    client = app.test_client()
    first = make_archive(14, size=2000)
    assert upload(client, token, first, "full_1.tar.gz", profile="small").status_code == 201
    before = store_tree(tmp_path / "remote_backups")
    response = upload(
        client,
        token,
        make_archive(15, size=100_000) + bytes(3000),
        "full_2.tar.gz",
        profile="small",
    )
    assert response.status_code == 507
    assert response.get_json()["code"] == "quota_exceeded"
    assert store_tree(tmp_path / "remote_backups") == before
    assert (
        upload(client, token, make_archive(16), "full_3.tar.gz", profile="other").status_code == 201
    )


def test_uploads_need_credentials(client):
    response = client.post(
        "/upload",
        data={"file": (io.BytesIO(make_archive(17)), NAME)},
        content_type="multipart/form-data",
    )
    assert response.status_code == 401


def test_anonymous_uploads_only_from_listed_networks(make_app):
    from tests.conftest import make_user

    app = make_app(backups={"allow_anonymous": True, "anonymous_networks": ["10.9.0.0/16"]})
    make_user(app, "root@example.com", role="admin")  # whose namespace anonymous uploads use
    client = app.test_client()
    form = lambda seed: {"file": (io.BytesIO(make_archive(seed)), f"full_{seed}.tar.gz")}  # noqa: E731
    inside = client.post(
        "/upload",
        data=form(18),
        content_type="multipart/form-data",
        environ_base={"REMOTE_ADDR": "10.9.1.2"},
    )
    assert inside.status_code == 201
    outside = client.post(
        "/upload",
        data=form(19),
        content_type="multipart/form-data",
        environ_base={"REMOTE_ADDR": "192.0.2.7"},
    )
    assert outside.status_code == 401
