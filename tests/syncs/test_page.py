"""The Sync jobs page: the jobs of the signed-in user, the form, the empty state, its assets, and
the API calls it makes with the session cookie (CSRF token, error shapes, job_changed events)."""

from __future__ import annotations

import os
import re

from syncapp.auth.accounts import find_user
from syncapp.extensions import socketio
from syncapp.remotes.catalog import create_remote
from syncapp.syncs.runner import run_now
from tests.conftest import make_token, make_user
from tests.syncs.helpers import grant_folders, write_tree
from tests.web.test_cordiax_page import scripts_of
from tests.web.test_pages import HTML, csrf_from, sign_in

ANA = "ana@example.com"  # the user of the sync_client fixture
FIELDS = (
    "name", "source_path", "destination_path", "destination_remote", "delete_after_sync",
    "sync_interval", "enabled", "realtime", "include", "exclude", "max_retries", "retry_delay",
    "workers",
)  # fmt: skip


def job_values(root, name: str, **extra) -> dict:
    source = root / "src" / name
    source.mkdir(parents=True, exist_ok=True)
    (root / "dst" / name).mkdir(parents=True, exist_ok=True)  # a destination must exist
    return {"name": name, "source_path": str(source), "destination_path": str(root / "dst" / name),
            "enabled": False, **extra}  # fmt: skip


def page_of(app, email: str) -> tuple:
    client = app.test_client()
    sign_in(client, email)
    response = client.get("/syncs", headers=HTML)
    assert response.status_code == 200
    return client, response.get_data(as_text=True)


def test_the_page_needs_a_session(client):
    response = client.get("/syncs", headers=HTML)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_the_empty_state_shows_how_to_create_a_job_with_curl(app, user):
    _, page = page_of(app, user)
    # the default personal root: <instance>/sync/users/<id>
    root = os.path.realpath(os.path.join(app.instance_path, "sync", "users"))
    assert "No sync jobs yet" in page
    assert "curl -X POST" in page and "http://localhost/api/v1/syncs" in page
    assert re.search(rf'"source_path": "{re.escape(root)}/\d+/documenti"', page)
    assert '"delete_after_sync": true' in page
    # the (empty) table is there for syncs.js to add a created job's row to, but hidden
    assert re.search(r'id="syncs-jobs-card"[^>]* hidden>', page)


def test_the_navigation_links_to_the_page(client, user):
    sign_in(client, user)
    page = client.get("/dashboard", headers=HTML).get_data(as_text=True)
    nav = re.search(r'<nav aria-label="Main"[^>]*>.*?</nav>', page, re.S).group(0)
    assert '<a href="/syncs">Sync jobs</a>' in nav


def test_the_form_has_every_job_field_and_the_scripts_are_files(app, user):
    _, page = page_of(app, user)
    assert 'id="sync-form"' in page
    for name in FIELDS:
        assert f'name="{name}"' in page, name
        assert f'data-error-for="{name}"' in page, name
    assert 'data-api="/api/v1/syncs"' in page
    sources = [re.search(r'src="([^"]+)"', tag).group(1) for tag in scripts_of(page)]
    assert sources == [
        "/static/js/layout.js",  # every page's (base.html)
        "/static/vendor/socket.io/socket.io.min.js",
        "/static/js/format.js",
        "/static/js/syncs.js",
    ]
    assert "onclick" not in page and "javascript:" not in page


def test_the_scripts_are_served(client):
    response = client.get("/static/js/syncs.js")
    assert response.status_code == 200
    script = response.get_data(as_text=True)
    assert 'window.io("/events")' in script and "innerHTML" not in script
    # API calls go through format.js, the one place that adds the CSRF header
    assert "call: callUrl" in script and "fetch(" not in script
    for event in ("run_started", "file_synced", "file_failed", "run_finished", "job_changed"):
        assert f'"{event}"' in script
    shared = client.get("/static/js/format.js")
    assert shared.status_code == 200 and b"window.syncappFormat" in shared.data
    assert b'"X-CSRFToken"' in shared.data
    response.close()
    shared.close()


def test_the_page_lists_the_users_jobs_with_their_last_run(sync_app, sync_client, sync_root):
    make_user(sync_app, "bob@example.com")
    grant_folders(sync_app, "bob@example.com", sync_root)
    bobs = make_token(sync_app, "bob@example.com")
    values = job_values(sync_root, "photos", sync_interval=42, realtime=True)
    write_tree(sync_root / "src" / "photos", {"a.jpg": b"a" * 3000})
    job_id = sync_client.post("/api/v1/syncs", json=values).get_json()["id"]
    sync_client.post("/api/v1/syncs", json=job_values(sync_root, "idle-one"))
    other = job_values(sync_root, "bobs-secret-job")
    response = sync_client.post(
        "/api/v1/syncs", json=other, headers={"Authorization": f"Bearer {bobs}"}
    )
    assert response.status_code == 201
    with sync_app.app_context():
        assert run_now(job_id).status == "completed"

    _, page = page_of(sync_app, ANA)
    assert re.search(
        r'<span id="syncs-count">2</span> sync job<span id="syncs-plural">s</span>', page
    )
    assert re.search(r'id="syncs-empty"[^>]* hidden>', page)
    assert "bobs-secret-job" not in page
    row = re.search(rf'<tr id="sync-job-{job_id}".*?</tr>', page, re.S).group(0)
    assert ">photos</strong>" in row and "every 42 s · on change" in row
    assert str(sync_root / "src" / "photos") in row and str(sync_root / "dst" / "photos") in row
    assert '<span class="badge badge-inc">completed</span>' in row
    assert "1 copied, 0 failed, 0 skipped · 2.9 KiB" in row
    assert '<td data-label="Next run" data-field="next-run">stopped</td>' in row
    assert 'data-action="start">' in row and 'data-action="stop" hidden>' in row
    # the job that never ran (its row, not the page's <template> for new rows)
    idle = re.search(r'<tr id="sync-job-\d+"[^>]*>(?:(?!</tr>).)*idle-one.*?</tr>', page, re.S)
    assert '<td data-label="Last run" data-field="last-run">never</td>' in idle.group(0)


def test_an_administrator_sees_every_users_jobs_with_their_owner(sync_app, sync_client, sync_root):
    sync_client.post("/api/v1/syncs", json=job_values(sync_root, "anas-job"))
    make_user(sync_app, "root@example.com", role="admin")
    _, page = page_of(sync_app, "root@example.com")
    assert "anas-job" in page and ANA in page
    assert "every user's jobs are listed" in page


def test_the_destination_select_offers_only_the_remotes_granted_to_the_user(
    sync_app, sync_client, sync_root
):
    with sync_app.app_context():
        ana_id = find_user(ANA).id
        create_remote(
            "office-nas",
            "local",
            {"root": str(sync_root / "dst")},
            [{"user_id": ana_id, "feature": "syncs"}],
        )
        create_remote("admins-nas", "local", {"root": str(sync_root / "dst")})
        create_remote(
            "pollers-share",
            "local",
            {"root": str(sync_root / "dst")},
            [{"user_id": ana_id, "feature": "cordiax"}],
        )
    _, page = page_of(sync_app, ANA)
    assert '<option value="office-nas">remote office-nas</option>' in page
    assert "admins-nas" not in page and "pollers-share" not in page
    assert f"<code>{sync_root}</code>" in page  # where folders may be


def test_the_pages_api_calls_need_its_csrf_token_and_announce_job_changes(
    sync_app, sync_client, sync_root
):
    client, page = page_of(sync_app, ANA)
    csrf = {"X-CSRFToken": csrf_from(page.encode())}
    values = job_values(sync_root, "docs")
    assert client.post("/api/v1/syncs", json=values).status_code == 400  # no CSRF token
    events = socketio.test_client(sync_app, namespace="/events", flask_test_client=client)
    assert events.is_connected("/events")
    try:
        created = client.post("/api/v1/syncs", json=values, headers=csrf)
        assert created.status_code == 201
        url = f"/api/v1/syncs/{created.get_json()['id']}"
        calls = [
            (client.put, url, {"sync_interval": 9}, 200),
            (client.post, f"{url}/start", None, 200),
            (client.post, f"{url}/stop", None, 200),
            (client.delete, url, None, 204),
        ]
        for method, path, body, status in calls:
            assert method(path, json=body, headers=csrf).status_code == status, path
        received = events.get_received("/events")
    finally:
        events.disconnect(namespace="/events")
    changes = [
        (e["args"][0]["action"], e["args"][0]["job"], e["args"][0]["enabled"])
        for e in received
        if e["name"] == "job_changed"
    ]
    assert changes == [
        ("created", "docs", False),
        ("updated", "docs", False),
        ("started", "docs", True),
        ("stopped", "docs", False),
        ("deleted", "docs", False),
    ]


def test_the_errors_the_form_shows_beside_its_fields(sync_app, sync_client, sync_root):
    bad = job_values(sync_root, "x", sync_interval=0, workers="many")
    body = sync_client.post("/api/v1/syncs", json=bad).get_json()
    assert body["error"] == "validation_error"
    assert set(body["errors"]) == {"sync_interval", "workers"}
    outside = {**job_values(sync_root, "y"), "destination_path": "/etc"}
    body = sync_client.post("/api/v1/syncs", json=outside).get_json()
    assert body["error"] == "folder_not_allowed" and body["field"] == "destination_path"
