"""Seed 004's files API: upload (streamed, size-limited, versioned), status, listing, downloads
from here and short-lived links to each cloud's copy, deletion of everything; owners only."""

from __future__ import annotations

import hashlib
import io
import threading
import time
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
from sqlalchemy import func, select

from syncapp.cloud import links
from syncapp.cloud.models import CloudCopy, CloudFile, CloudJob, CloudVersion
from syncapp.cloud.targets import open_target
from syncapp.extensions import db
from tests.cloud.conftest import (
    MULTIPART,
    CloudUser,
    multipart,
    place_copy,
    store_files,
    stored_remote,
)
from tests.live import LiveServer
from tests.peers.process import free_port


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def rows(app) -> dict[str, int]:
    with app.app_context():
        count = lambda model: db.session.scalar(select(func.count()).select_from(model))  # noqa: E731
        return {m.__tablename__: count(m) for m in (CloudFile, CloudVersion, CloudCopy, CloudJob)}


NOTHING = {"cloud_files": 0, "cloud_versions": 0, "cloud_copies": 0, "cloud_jobs": 0}


# --- upload and versions ---------------------------------------------------------------------


def test_an_upload_answers_202_with_the_seed_fields_and_keeps_the_bytes(cloud_app, cloud_client):
    data = b"quarterly report\n" * 1000
    reply = cloud_client.uploaded(data, "report.txt")
    assert reply["filename"] == "report.txt"
    assert reply["version"] == 1 and reply["created_version"] is True
    assert reply["job_id"] and reply["message"]
    [stored] = store_files(cloud_app)
    assert stored == f"{cloud_client.id}/{reply['file_id']}/v1-report.txt"
    with open(f"{cloud_app.instance_path}/cloud/{stored}", "rb") as kept:
        assert md5(kept.read()) == md5(data)
    info = cloud_client.get(f"/api/v1/files/{reply['file_id']}").get_json()
    assert (info["size"], info["md5"], info["version"]) == (len(data), md5(data), 1)
    status = cloud_client.get(f"/api/v1/status/{reply['job_id']}").get_json()
    # No cloud asked for: the job has nothing to send and is done.
    assert status["status"] == "completed" and status["progress_percentage"] == 100
    assert status["error_message"] is None and status["targets"] == []


def test_other_content_under_the_same_name_is_a_new_version_and_the_same_is_none(
    cloud_app, cloud_client
):
    first = cloud_client.uploaded(b"draft one", "notes.md")
    second = cloud_client.uploaded(b"draft two", "notes.md")
    assert second["file_id"] == first["file_id"]
    assert second["version"] == 2 and second["created_version"] is True
    again = cloud_client.uploaded(b"draft two", "notes.md")
    assert again["file_id"] == first["file_id"]
    assert again["version"] == 2 and again["created_version"] is False
    assert "identical to version 2" in again["message"]
    assert cloud_client.get(f"/api/v1/status/{again['job_id']}").get_json()["status"] == (
        "completed"
    )
    listing = cloud_client.get(f"/api/v1/files/{first['file_id']}/versions").get_json()
    assert [(v["number"], v["md5"], v["current"]) for v in listing["versions"]] == [
        (2, md5(b"draft two"), True),
        (1, md5(b"draft one"), False),
    ]
    assert listing["versions"][0]["origin"] == "upload"
    assert len(store_files(cloud_app)) == 2  # no staging copy left behind by the identical one
    assert rows(cloud_app)["cloud_versions"] == 2


def test_the_current_and_an_old_version_download_byte_for_byte(cloud_client):
    old, new = bytes(range(256)) * 300, b"\x00\xff" * 50_000
    file_id = cloud_client.uploaded(old, "blob.bin")["file_id"]
    cloud_client.uploaded(new, "blob.bin")
    current = cloud_client.get(f"/api/v1/files/{file_id}", download="true", from_storage="local")
    assert current.status_code == 200
    assert current.data == new
    assert current.headers["ETag"].strip('"') == md5(new)
    assert "attachment" in current.headers["Content-Disposition"]
    assert "blob.bin" in current.headers["Content-Disposition"]
    first = cloud_client.get(f"/api/v1/files/{file_id}/versions/1/download")
    assert first.status_code == 200 and first.data == old
    assert cloud_client.get(f"/api/v1/files/{file_id}/versions/9/download").status_code == 404


def test_simultaneous_uploads_of_one_name_each_become_a_version_of_their_own(
    cloud_app, cloud_client
):
    contents = [b"writer %d\n" % n * 50_000 for n in range(4)]
    start = threading.Barrier(len(contents))
    replies: list = []

    def send(data: bytes) -> None:
        http = cloud_app.test_client()
        form = {"file": (io.BytesIO(data), "shared.log")}
        start.wait()
        replies.append(http.post("/api/v1/upload", headers=cloud_client.headers, data=form,
                                 content_type="multipart/form-data"))  # fmt: skip

    threads = [threading.Thread(target=send, args=(data,)) for data in contents]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [r.status_code for r in replies] == [202] * 4, [r.get_json() for r in replies]
    [file_id] = {r.get_json()["file_id"] for r in replies}
    assert sorted(r.get_json()["version"] for r in replies) == [1, 2, 3, 4]
    for version in cloud_client.get(f"/api/v1/files/{file_id}/versions").get_json()["versions"]:
        body = cloud_client.get(f"/api/v1/files/{file_id}/versions/{version['number']}/download")
        assert md5(body.data) == version["md5"]
    assert {md5(d) for d in contents} == {
        v["md5"]
        for v in cloud_client.get(f"/api/v1/files/{file_id}/versions").get_json()["versions"]
    }
    assert len(store_files(cloud_app)) == 4


def test_only_the_last_keep_versions_are_kept(make_cloud_app):
    app = make_cloud_app(keep_versions=2)
    alice = CloudUser(app, "alice@example.com")
    for n in range(1, 5):
        reply = alice.uploaded(b"content %d" % n, "log.txt")
    file_id = reply["file_id"]
    versions = alice.get(f"/api/v1/files/{file_id}/versions").get_json()["versions"]
    assert [v["number"] for v in versions] == [4, 3]
    assert store_files(app) == [
        f"{alice.id}/{file_id}/v3-log.txt",
        f"{alice.id}/{file_id}/v4-log.txt",
    ]
    assert alice.get(f"/api/v1/files/{file_id}/versions/1/download").status_code == 404
    assert alice.get(f"/api/v1/files/{file_id}/versions/3/download").data == b"content 3"


def test_file_names_are_cleaned_for_storage_but_kept_for_download(cloud_app, cloud_client):
    reply = cloud_client.uploaded(b"x", "C:\\Users\\me\\Résumé: final?.pdf")
    assert reply["filename"] == "Résumé: final?.pdf"
    [stored] = store_files(cloud_app)
    assert stored == f"{cloud_client.id}/{reply['file_id']}/v1-Résumé_ final_.pdf"
    download = cloud_client.get(f"/api/v1/files/{reply['file_id']}", download="true")
    assert "R%C3%A9sum%C3%A9" in download.headers["Content-Disposition"]


def test_the_listing_pages_and_shows_each_clouds_state(make_cloud_app):
    app = make_cloud_app(s3_remote="unreached-s3")  # nothing replicates in this test
    stored_remote(app, "unreached-s3", "s3", {"bucket": "b", "endpoint_url": "http://127.0.0.1:9"})
    alice = CloudUser(app, "alice@example.com")
    for name in ("a.txt", "b.txt", "c.txt"):
        alice.uploaded(name.encode(), name)
    queued = alice.uploaded(b"a.txt", "a.txt", sync_s3="true")  # same content, s3 lacks it
    assert queued["created_version"] is False
    job = alice.get(f"/api/v1/status/{queued['job_id']}").get_json()
    assert job["status"] == "pending" and job["bytes_total"] == len(b"a.txt")
    assert [t["target"] for t in job["targets"]] == ["s3"]
    assert job["progress_percentage"] < 100
    page = alice.get("/api/v1/files", limit=2, offset=0).get_json()
    assert page["total"] == 3 and (page["limit"], page["offset"]) == (2, 0)
    # newest change first; the identical upload changed nothing
    assert [f["filename"] for f in page["files"]] == ["c.txt", "b.txt"]
    rest = alice.get("/api/v1/files", limit=2, offset=2).get_json()
    assert [f["filename"] for f in rest["files"]] == ["a.txt"]
    [state] = rest["files"][0]["targets"]
    assert (state["target"], state["status"], state["synced_version"]) == ("s3", "pending", None)
    assert alice.get("/api/v1/files", limit=0).status_code == 400


# --- refused uploads -------------------------------------------------------------------------


def test_a_declared_size_over_the_limit_is_413_and_nothing_is_kept(make_cloud_app):
    app = make_cloud_app(max_size=1000)
    alice = CloudUser(app, "alice@example.com")
    response = alice.upload(b"x" * 200_000, "big.bin")  # past the limit plus the form framing
    assert response.status_code == 413
    assert store_files(app) == [] and rows(app) == NOTHING


def test_a_body_over_the_limit_is_stopped_while_streaming(make_cloud_app):
    app = make_cloud_app(max_size=1000)
    alice = CloudUser(app, "alice@example.com")
    response = alice.upload(b"x" * 5000, "big.bin")  # within the framing allowance
    assert response.status_code == 413
    assert response.get_json()["error"] == "payload_too_large"
    assert store_files(app) == [] and rows(app) == NOTHING
    assert alice.uploaded(b"x" * 1000, "fits.bin")["version"] == 1


def test_a_chunked_upload_without_length_is_stopped_at_the_limit(tmp_path):
    server = LiveServer(tmp_path, threads=4, env={"SYNCAPP_CLOUD_MAX_SIZE": "5000"})
    server.prepare()
    server.start()
    try:
        body = multipart(("file", "big.bin", b"y" * 20_000))

        def chunks():  # a generator body: requests sends it chunked, with no Content-Length
            for start in range(0, len(body), 4096):
                yield body[start : start + 4096]

        headers = {**server.headers, "Content-Type": MULTIPART}
        response = requests.post(f"{server.url}/api/v1/upload", data=chunks(), headers=headers,
                                 timeout=30)  # fmt: skip
        assert "Content-Length" not in response.request.headers
        assert response.status_code == 413
        store = tmp_path / "instance" / "cloud"
        assert [p for p in store.rglob("*") if p.is_file()] == []
        listing = requests.get(f"{server.url}/api/v1/files", headers=server.headers, timeout=10)
        assert listing.json()["total"] == 0
        small = multipart(("file", "small.bin", b"z" * 100))
        ok = requests.post(f"{server.url}/api/v1/upload", data=iter([small]), headers=headers,
                           timeout=30)  # fmt: skip
        assert ok.status_code == 202, ok.text
    finally:
        server.stop()


def test_bad_forms_are_400_and_keep_nothing(cloud_app, cloud_client):
    not_a_form = cloud_client.post_body(b"raw bytes", content_type="application/octet-stream")
    assert not_a_form.status_code == 400 and not_a_form.get_json()["error"] == "bad_form"
    no_file = cloud_client.post_body(multipart(("sync_s3", "false")))
    assert no_file.status_code == 400 and no_file.get_json()["error"] == "no_file"
    bad_flag = cloud_client.upload(b"data", "a.txt", sync_google="maybe")
    assert bad_flag.status_code == 400 and bad_flag.get_json()["error"] == "invalid_flag"
    truncated = cloud_client.post_body(multipart(("file", "a.txt", b"data"))[:-20])
    assert truncated.status_code == 400
    assert store_files(cloud_app) == [] and rows(cloud_app) == NOTHING


@pytest.mark.parametrize("flag_first", [True, False])
def test_a_cloud_that_is_not_set_up_is_400_and_nothing_is_kept(cloud_app, cloud_client, flag_first):
    parts = [("sync_azure", "true"), ("file", "a.txt", b"payload " * 1000)]
    response = cloud_client.post_body(multipart(*(parts if flag_first else parts[::-1])))
    assert response.status_code == 400
    body = response.get_json()
    assert body["error"] == "target_not_configured" and "azure" in body["message"]
    assert store_files(cloud_app) == [] and rows(cloud_app) == NOTHING


# --- deletion and ownership ------------------------------------------------------------------


def test_delete_removes_every_version_and_every_row(cloud_app, cloud_client):
    file_id = cloud_client.uploaded(b"v1", "doomed.txt")["file_id"]
    cloud_client.uploaded(b"v2", "doomed.txt")
    other = cloud_client.uploaded(b"keep me", "other.txt")
    assert cloud_client.delete(f"/api/v1/files/{file_id}").status_code == 204
    assert cloud_client.get(f"/api/v1/files/{file_id}").status_code == 404
    assert store_files(cloud_app) == [f"{cloud_client.id}/{other['file_id']}/v1-other.txt"]
    assert rows(cloud_app) == {**NOTHING, "cloud_files": 1, "cloud_versions": 1, "cloud_jobs": 1}
    assert cloud_client.delete(f"/api/v1/files/{file_id}").status_code == 404


def test_another_users_file_and_job_answer_404(cloud_app, cloud_client, cloud_user):
    mine = cloud_client.uploaded(b"alice's secret", "secret.txt")
    bob = cloud_user("bob@example.com")
    base = f"/api/v1/files/{mine['file_id']}"
    assert bob.get(base).status_code == 404
    assert bob.get(base, download="true").status_code == 404
    assert bob.get(f"{base}/versions").status_code == 404
    assert bob.get(f"{base}/versions/1/download").status_code == 404
    assert bob.get(f"/api/v1/status/{mine['job_id']}").status_code == 404
    assert bob.delete(base).status_code == 404
    assert bob.get("/api/v1/files").get_json()["total"] == 0
    # bob's own file of the same name is another file
    assert bob.uploaded(b"bob's", "secret.txt")["file_id"] != mine["file_id"]
    assert cloud_client.get(base, download="true").data == b"alice's secret"


def test_an_admin_sees_and_deletes_everyones_files_as_with_documents(cloud_app, cloud_client,
                                                                      cloud_user):  # fmt: skip
    mine = cloud_client.uploaded(b"alice", "a.txt")
    root = cloud_user("root@example.com", role="admin")
    assert [f["id"] for f in root.get("/api/v1/files").get_json()["files"]] == [mine["file_id"]]
    assert root.get(f"/api/v1/status/{mine['job_id']}").status_code == 200
    assert root.delete(f"/api/v1/files/{mine['file_id']}").status_code == 204
    assert store_files(cloud_app) == []


def test_the_files_api_needs_authentication(cloud_app, cloud_client):
    anonymous = cloud_app.test_client()
    file_id = cloud_client.uploaded(b"x", "x.txt")["file_id"]
    assert anonymous.get("/api/v1/files").status_code == 401
    assert anonymous.get(f"/api/v1/files/{file_id}").status_code == 401
    assert anonymous.delete(f"/api/v1/files/{file_id}").status_code == 401
    assert anonymous.post("/api/v1/upload", data=multipart(("file", "a", b"a")),
                          content_type=MULTIPART).status_code == 401  # fmt: skip
    # the signed-link route is reachable, but only with a valid token
    assert anonymous.get(f"/api/v1/files/{file_id}/download?token=x&from_storage=google"
                         ).status_code == 403  # fmt: skip


# --- clouds: short-lived links, deletion of the copies ---------------------------------------


@pytest.mark.peer
def test_an_s3_copy_gets_a_presigned_url_and_is_deleted_with_the_file(s3_cloud, s3_server):
    alice = CloudUser(s3_cloud, "alice@example.com")
    data = b"presigned payload " * 500
    file_id = alice.uploaded(data, "shared.bin")["file_id"]
    missing = alice.get(f"/api/v1/files/{file_id}", download="true", from_storage="s3")
    assert missing.status_code == 404 and missing.get_json()["error"] == "not_in_cloud"
    path = place_copy(s3_cloud, alice.id, file_id, "s3", data)

    link = alice.get(f"/api/v1/files/{file_id}", download="true", from_storage="s3").get_json()
    assert link["expires_in"] == 120 and link["version"] == 1
    url = link["download_url"]
    assert url.startswith(s3_server.settings["endpoint_url"])
    assert dict(parse_qsl(urlsplit(url).query))["X-Amz-Expires"] == "120"
    fetched = requests.get(url, timeout=10)  # no credentials but the URL's own
    assert fetched.status_code == 200 and md5(fetched.content) == md5(data)

    again = alice.uploaded(data, "shared.bin", sync_s3="true")  # s3 holds this version already
    assert again["created_version"] is False
    job = alice.get(f"/api/v1/status/{again['job_id']}").get_json()
    assert (job["status"], job["bytes_total"], job["progress_percentage"]) == ("completed", 0, 100)

    assert alice.delete(f"/api/v1/files/{file_id}").status_code == 204
    with s3_cloud.app_context(), open_target("s3", alice.id) as cloud:
        assert cloud.stat(path) is None
    assert store_files(s3_cloud) == [] and rows(s3_cloud) == NOTHING


@pytest.mark.peer
def test_a_cloud_that_cannot_be_reached_stops_the_deletion_and_keeps_everything(
    s3_server, s3_cloud
):
    alice = CloudUser(s3_cloud, "alice@example.com")
    file_id = alice.uploaded(b"precious", "precious.txt")["file_id"]
    place_copy(s3_cloud, alice.id, file_id, "s3", b"precious")
    # Re-point the target at a port where nothing listens: the cloud is down.
    with s3_cloud.app_context():
        from syncapp.remotes.catalog import find_remote, update_remote

        down = {**s3_server.settings, "endpoint_url": f"http://127.0.0.1:{free_port()}",
                "max_attempts": 1, "timeout": 2}  # fmt: skip
        update_remote(find_remote("cloud-s3"), settings=down)
    before = store_files(s3_cloud)
    response = alice.delete(f"/api/v1/files/{file_id}")
    assert response.status_code == 503
    assert response.get_json()["error"] == "cloud_unavailable"
    assert store_files(s3_cloud) == before
    assert rows(s3_cloud)["cloud_copies"] == 1
    assert alice.get(f"/api/v1/files/{file_id}", download="true").data == b"precious"
    forced = alice.delete(f"/api/v1/files/{file_id}", keep_cloud_copies="true")
    assert forced.status_code == 204
    assert store_files(s3_cloud) == [] and rows(s3_cloud) == NOTHING


@pytest.mark.peer
def test_an_azure_copy_gets_a_sas_url(azure_cloud):
    alice = CloudUser(azure_cloud, "alice@example.com")
    data = b"azure bytes " * 300
    file_id = alice.uploaded(data, "blob name.txt")["file_id"]
    place_copy(azure_cloud, alice.id, file_id, "azure", data)
    link = alice.get(f"/api/v1/files/{file_id}", download="true", from_storage="azure").get_json()
    assert "sig=" in link["download_url"] and "sp=r" in link["download_url"]
    fetched = requests.get(link["download_url"], timeout=10)
    assert fetched.status_code == 200 and md5(fetched.content) == md5(data)
    tampered = link["download_url"].replace("sp=r", "sp=rw")
    assert requests.get(tampered, timeout=10).status_code == 403


def _link_parts(url: str) -> tuple[str, dict[str, str]]:
    parts = urlsplit(url)
    return parts.path, dict(parse_qsl(parts.query))


@pytest.mark.peer
def test_a_drive_copy_gets_a_signed_syncapp_link_that_streams_it(drive_cloud):
    alice, app = drive_cloud, drive_cloud.app
    data = b"drive content " * 4000
    file_id = alice.uploaded(data, "drive.bin")["file_id"]
    place_copy(app, alice.id, file_id, "google", data)
    link = alice.get(f"/api/v1/files/{file_id}", download="true", from_storage="google").get_json()
    assert link["expires_in"] == 60
    path, query = _link_parts(link["download_url"])
    assert path == f"/api/v1/files/{file_id}/download" and query["from_storage"] == "google"

    anonymous = app.test_client()  # the link alone is the credential
    fetched = anonymous.get(path, query_string=query)
    assert fetched.status_code == 200 and md5(fetched.data) == md5(data)
    assert "drive.bin" in fetched.headers["Content-Disposition"]

    token = query["token"]
    tampered = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    refused = anonymous.get(path, query_string={**query, "token": tampered})
    assert refused.status_code == 403 and refused.get_json()["error"] == "link_invalid"
    elsewhere = anonymous.get(path, query_string={**query, "from_storage": "s3"})
    assert elsewhere.status_code == 403
    with app.test_request_context():
        grant = links.Grant(alice.id, file_id, 1, "google")
        old = links.sign(grant, issued_at=time.time() - 61)
        other_file = links.sign(links.Grant(alice.id, file_id + 1, 1, "google"))
    expired = anonymous.get(path, query_string={**query, "token": old})
    assert expired.status_code == 403 and expired.get_json()["error"] == "link_expired"
    assert anonymous.get(path, query_string={**query, "token": other_file}).status_code == 403


@pytest.mark.peer
def test_a_link_for_a_version_the_cloud_no_longer_holds_is_gone(drive_cloud):
    alice, app = drive_cloud, drive_cloud.app
    file_id = alice.uploaded(b"one", "moving.txt")["file_id"]
    place_copy(app, alice.id, file_id, "google", b"one")
    link = alice.get(f"/api/v1/files/{file_id}", download="true", from_storage="google").get_json()
    with app.app_context():
        copy = db.session.scalar(select(CloudCopy))
        copy.synced_version = 2  # as if a newer version had been replicated meanwhile
        db.session.commit()
    path, query = _link_parts(link["download_url"])
    assert app.test_client().get(path, query_string=query).status_code == 410
