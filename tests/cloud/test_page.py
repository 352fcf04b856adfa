"""The Cloud files page: the user's files with each cloud's copy, the upload form and the clouds
it may send to, the Google Drive connection, open conflicts side by side, its assets, and the
API calls its scripts make with the session cookie (CSRF header, streaming upload included)."""

from __future__ import annotations

import io
import json
import re
from datetime import timedelta
from html import unescape

from syncapp.cloud.models import CloudConflict, CloudCopy, CloudFile, CloudVersion, GoogleAccount
from syncapp.extensions import db
from syncapp.remotes.catalog import create_remote
from syncapp.security import encrypt_secret
from syncapp.timeutil import utcnow
from tests.cloud.conftest import CloudUser
from tests.conftest import make_user
from tests.web.test_cordiax_page import scripts_of
from tests.web.test_pages import HTML, csrf_from, sign_in

ALICE = "alice@example.com"  # the cloud_client fixture's user
GOOGLE = {"client_id": "page-test-client", "client_secret": "page-test-secret"}
SCRIPTS = [
    "/static/js/layout.js",  # every page's (base.html)
    "/static/vendor/socket.io/socket.io.min.js",
    "/static/js/format.js",
    "/static/js/upload.js",
    "/static/js/confirm.js",  # deletes and "Make current" ask first
    "/static/js/cloud.js",
]


def page_of(app, email: str = ALICE, query: str = "") -> tuple:
    client = app.test_client()
    sign_in(client, email)
    response = client.get(f"/cloud{query}", headers=HTML)
    assert response.status_code == 200
    return client, response.get_data(as_text=True)


def element(page: str, tag: str, element_id: str) -> str:
    found = re.search(rf'<{tag}\b[^>]*\bid="{element_id}".*?</{tag}>', page, re.S)
    assert found, f"no <{tag} id={element_id}>"
    return found.group(0)


def checkbox(page: str, target: str) -> str:
    return re.search(rf'<input id="cloud-sync-{target}"[^>]*>', page).group(0)


def data_attribute(page: str, name: str):
    return json.loads(unescape(re.search(rf"{name}='([^']*)'", page).group(1)))


def make_conflict(app, owner_id: int, filename: str, *, resolved: bool = False) -> int:
    """A file whose version 2 met a changed S3 copy: the rows the replicator leaves."""
    local_time = utcnow() - timedelta(hours=2)
    with app.app_context():
        file = CloudFile(owner_id=owner_id, filename=filename, current_version=2)
        db.session.add(file)
        db.session.flush()
        for number, size, md5 in ((1, 100, "a" * 32), (2, 2048, "b" * 32)):
            db.session.add(
                CloudVersion(
                    file_id=file.id, number=number, size=size, md5=md5,
                    stored_path=f"files/{owner_id}/{file.id}/{number}", modified_at=local_time,
                )
            )  # fmt: skip
        db.session.add(
            CloudCopy(
                file_id=file.id, target="s3", remote_path=f"syncapp/{owner_id}/{filename}",
                status="conflict", wanted_version=2, synced_version=1, synced_md5="a" * 32,
            )
        )  # fmt: skip
        conflict = CloudConflict(
            owner_id=owner_id, file_id=file.id, target="s3",
            remote_path=f"syncapp/{owner_id}/{filename}", local_version=2, local_size=2048,
            local_md5="b" * 32, local_modified=local_time, remote_size=3072,
            remote_md5="c" * 32, remote_modified=local_time + timedelta(hours=1),
            resolved=resolved,
        )  # fmt: skip
        db.session.add(conflict)
        db.session.commit()
        return conflict.id


def s3_app(make_app, tmp_path, **sections):
    """An app whose s3 target is a stored remote (a folder: nothing is replicated here)."""
    app = make_app(cloud={"s3_remote": "cloud-s3"}, **sections)
    with app.app_context():
        create_remote("cloud-s3", "local", {"root": str(tmp_path / "s3")})
    return app


def connect_google(app, user_id: int) -> None:
    with app.app_context():
        db.session.add(
            GoogleAccount(user_id=user_id, refresh_token_encrypted=encrypt_secret("a-token"))
        )
        db.session.commit()


# --- access and assets -----------------------------------------------------------------------


def test_the_page_needs_a_session(client):
    response = client.get("/cloud", headers=HTML)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_the_scripts_are_external_files_and_are_served(app, user):
    client, page = page_of(app, user)
    tags = scripts_of(page)
    assert [re.search(r'src="([^"]+)"', tag).group(1) for tag in tags] == SCRIPTS
    assert len(re.findall(r"<script\b", page)) == len(SCRIPTS)
    assert not re.search(r"<script\b[^>]*>[^<]+</script>", page)  # no inline code
    assert "onclick" not in page and "javascript:" not in page
    bodies = {}
    for source in SCRIPTS:
        response = client.get(source)
        assert response.status_code == 200, source
        bodies[source] = response.get_data(as_text=True)
        response.close()
    cloud = bodies["/static/js/cloud.js"]
    assert 'window.io("/events")' in cloud and "innerHTML" not in cloud
    assert '"cloud_progress"' in cloud and '"cloud_job_finished"' in cloud
    assert '"uploaded"' in cloud and '"uploaded"' in bodies["/static/js/upload.js"]
    assert 'xhr.upload.addEventListener("progress"' in bodies["/static/js/upload.js"]
    assert '"X-CSRFToken"' in bodies["/static/js/format.js"]


# --- files -----------------------------------------------------------------------------------


def test_the_empty_state_shows_the_curl_upload(app, user):
    _, page = page_of(app, user)
    empty = element(page, "section", "cloud-empty")
    assert "No cloud files yet" in empty and " hidden" not in empty.split(">")[0]
    assert 'curl -X POST -H "Authorization: Bearer $TOKEN" -F "file=@/path/to/file.pdf"' in empty
    assert "http://localhost/api/v1/upload" in empty
    assert '<a href="/cloud" aria-current="page">Cloud files</a>' in page  # the main navigation
    assert re.search(r'<section [^>]*id="cloud-files-panel"[^>]* hidden>', page)


def test_the_page_lists_the_users_files_with_each_clouds_copy(cloud_app, cloud_client, cloud_user):
    first = cloud_client.uploaded(b"version one", "report.pdf")
    cloud_client.uploaded(b"version two!", "report.pdf")
    cloud_client.uploaded(b"x" * 3000, "photo.jpg")
    cloud_user("bob@example.com").uploaded(b"bob's", "bobs-secret.txt")
    with cloud_app.app_context():
        db.session.add(
            CloudCopy(
                file_id=first["file_id"], target="s3", remote_path="syncapp/1/report.pdf",
                status="failed", wanted_version=2, synced_version=1, last_error="bucket gone",
            )
        )  # fmt: skip
        db.session.commit()

    _, page = page_of(cloud_app)

    assert "2 files" in page and "bobs-secret.txt" not in page
    assert re.search(r'<section [^>]*id="cloud-empty"[^>]* hidden>', page)
    row = element(page, "tr", f"cloud-file-{first['file_id']}")
    assert '<strong data-field="filename">report.pdf</strong>' in row
    assert '<td data-field="size">12 B</td>' in row
    assert '<td data-field="version">2</td>' in row
    download = f"/api/v1/files/{first['file_id']}?download=true&amp;from_storage=local"
    assert f'href="{download}"' in row
    s3 = re.search(r'<td data-target="s3">.*?</td>', row, re.S).group(0)
    assert '<span class="badge badge-danger">failed</span>' in s3 and ">v1</small>" in s3
    assert "bucket gone" in s3
    assert re.search(r'<td data-target="google"><span class="lede">—</span></td>', row)
    assert re.search(r'data-from="s3">From S3</button>', row)  # the cloud holds a version
    assert re.search(r'data-from="azure" hidden>From Azure</button>', row)
    assert 'data-action="versions"' in row and 'data-action="delete"' in row
    assert "2.9 KiB" in page  # photo.jpg
    # the row cloud.js fills for a file the page did not list has the same cells
    template = element(page, "template", "cloud-file-row")
    assert template.count("<td") == row.count("<td") and 'data-field="download"' in template


def test_an_administrator_sees_every_users_files_with_their_owner(cloud_app, cloud_client):
    cloud_client.uploaded(b"alice's", "alice-notes.txt")
    make_user(cloud_app, "root@example.com", role="admin")
    _, page = page_of(cloud_app, "root@example.com")
    assert "alice-notes.txt" in page and ALICE in page
    assert "every user's files are listed" in page


# --- upload form -----------------------------------------------------------------------------


def test_the_upload_form_disables_the_clouds_that_are_not_set_up(app, user):
    _, page = page_of(app, user)
    form = element(page, "form", "cloud-upload")
    assert 'class="upload-form"' in form and 'action="/api/v1/upload"' in form
    assert "data-stay" in form and 'enctype="multipart/form-data"' in form
    assert '<input id="cloud-file" name="file" type="file" required>' in form
    assert '<progress id="cloud-upload-progress"' in form
    for target in ("google", "azure", "s3"):
        box = checkbox(page, target)
        assert f'name="sync_{target}"' in box and 'value="true"' in box
        assert " disabled" in box and f'aria-describedby="cloud-hint-{target}"' in box
    assert "Google Drive is not configured on this server" in form
    assert "an administrator chooses its stored remote (cloud.azure_remote)" in form
    assert "an administrator chooses its stored remote (cloud.s3_remote)" in form


def test_the_upload_form_enables_the_clouds_the_user_can_send_to(make_app, tmp_path):
    app = s3_app(make_app, tmp_path, google=GOOGLE)
    alice = make_user(app, ALICE)
    _, page = page_of(app)
    assert " disabled" not in checkbox(page, "s3")
    assert " disabled" in checkbox(page, "azure")
    assert " disabled" in checkbox(page, "google")
    assert "connect Google Drive below first" in page

    connect_google(app, alice)
    _, page = page_of(app)
    assert " disabled" not in checkbox(page, "google")
    assert "connect Google Drive below first" not in page


def test_an_upload_with_the_pages_session_streams_and_is_followed(make_app, tmp_path):
    """What upload.js and cloud.js do: the upload carries the CSRF header (a streaming route
    reads no form field before the file), then the job shows as still replicating."""
    app = s3_app(make_app, tmp_path)
    make_user(app, ALICE)
    client, page = page_of(app)
    form = {"file": (io.BytesIO(b"hello clouds"), "hello.txt"), "sync_s3": "true"}
    refused = client.post("/api/v1/upload", data=dict(form), content_type="multipart/form-data")
    assert refused.status_code == 400
    form["file"] = (io.BytesIO(b"hello clouds"), "hello.txt")
    response = client.post(
        "/api/v1/upload",
        data=form,
        content_type="multipart/form-data",
        headers={"X-CSRFToken": csrf_from(page.encode()), "Accept": "application/json"},
    )
    assert response.status_code == 202, response.get_json()
    reply = response.get_json()
    status = client.get(f"/api/v1/status/{reply['job_id']}").get_json()
    assert status["status"] == "pending" and status["targets"][0]["target"] == "s3"

    _, page = page_of(app)
    assert data_attribute(page, "data-active-jobs") == [
        {"job_id": reply["job_id"], "filename": "hello.txt"}
    ]
    assert not re.search(r'<section [^>]*id="cloud-jobs-panel"[^>]* hidden>', page)
    row = element(page, "tr", f"cloud-file-{reply['file_id']}")
    assert '<td data-target="s3"><span class="badge badge-diff">pending</span></td>' in row


# --- Google Drive ----------------------------------------------------------------------------


def test_without_a_google_client_the_page_says_drive_is_not_configured(app, user):
    _, page = page_of(app, user)
    panel = element(page, "section", "google-panel")
    assert "Google Drive is not configured on this server" in panel
    assert "/auth/google/start" not in panel and "google-disconnect" not in panel


def test_the_connect_button_then_the_connected_state(make_app):
    app = make_app(google=GOOGLE)
    alice = make_user(app, ALICE)
    _, page = page_of(app)
    panel = element(page, "section", "google-panel")
    assert '<a class="button" id="google-connect" href="/auth/google/start">' in panel
    assert "Connect Google Drive" in panel and "Connected since" not in panel
    assert "flash-success" not in page

    connect_google(app, alice)
    client, page = page_of(app, query="?google=connected")
    panel = element(page, "section", "google-panel")
    assert "Connected since" in panel and re.search(r"<time datetime=\"[^\"]+Z\">", panel)
    assert 'id="google-disconnect"' in panel and 'data-disconnect-url="/auth/google"' in panel
    assert "/auth/google/start" not in panel
    assert '<div class="flash flash-success" role="status">Google Drive is connected' in page

    # the Disconnect button's call: refused without the page's CSRF header, done with it
    assert client.delete("/auth/google").status_code == 400
    answer = client.delete("/auth/google", headers={"X-CSRFToken": csrf_from(page.encode())})
    assert answer.status_code == 200 and answer.get_json()["connected"] is False
    _, page = page_of(app)
    assert 'id="google-connect"' in element(page, "section", "google-panel")


# --- conflicts -------------------------------------------------------------------------------


def test_the_conflicts_section_shows_open_conflicts_side_by_side(app):
    carol = make_user(app, "carol@example.com")
    bob = make_user(app, "bob@example.com")
    open_id = make_conflict(app, carol, "budget.xlsx")
    done_id = make_conflict(app, carol, "old-budget.xlsx", resolved=True)
    bobs_id = make_conflict(app, bob, "bobs-plan.xlsx")

    client, page = page_of(app, "carol@example.com")

    panel = element(page, "section", "cloud-conflicts-panel")
    assert f'id="cloud-conflict-{done_id}"' not in panel and "old-budget.xlsx" not in panel
    assert f'id="cloud-conflict-{bobs_id}"' not in panel and "bobs-plan.xlsx" not in panel
    card = element(panel, "article", f"cloud-conflict-{open_id}")
    assert "budget.xlsx" in card and "conflict in S3" in card
    assert "Here (version 2)" in card and "In S3" in card
    assert "<td>2.0 KiB</td>" in card and "<td>3.0 KiB</td>" in card
    assert f"<code>{'b' * 32}</code>" in card and f"<code>{'c' * 32}</code>" in card
    modified = re.search(r'<th scope="row">Modified</th>(.*?)</tr>', card, re.S).group(1)
    local_side, remote_side = re.findall(r"<td>(.*?)</td>", modified, re.S)
    assert "newer" in remote_side and "newer" not in local_side
    assert '<button type="button" class="button small" data-policy="last-write">Keep newest' in card
    assert 'data-policy="keep-both">Keep both' in card and 'data-action="choose"' in card
    assert 'data-policy="manual" data-keep="local"' in card
    assert 'data-policy="manual" data-keep="remote"' in card
    assert f'id="conflict-{open_id}-notes" name="notes"' in card
    # the list cloud.js compares with, and the resolve call refused without the CSRF header
    listed = client.get("/api/v1/conflicts?resolved=false").get_json()["conflicts"]
    assert [conflict["id"] for conflict in listed] == [open_id]
    refused = client.post(f"/api/v1/conflicts/{open_id}/resolve", json={"policy": "last-write"})
    assert refused.status_code == 400
    with app.app_context():
        assert db.session.get(CloudConflict, open_id).resolved is False


def test_without_conflicts_the_section_is_hidden(cloud_app, cloud_client):
    cloud_client.uploaded(b"calm", "calm.txt")
    _, page = page_of(cloud_app)
    assert re.search(r'<section [^>]*id="cloud-conflicts-panel"[^>]* hidden>', page)
    assert 'data-conflict="' not in page


def test_a_user_with_a_cloud_file_is_not_shown_the_empty_state(cloud_app):
    CloudUser(cloud_app, "dora@example.com").uploaded(b"d", "d.txt")
    _, page = page_of(cloud_app, "dora@example.com")
    assert re.search(r'<section [^>]*id="cloud-empty"[^>]* hidden>', page)
    assert "1 file</h2>" in page
