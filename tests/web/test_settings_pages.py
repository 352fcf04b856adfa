"""The settings pages: who may open them, what each lists, and the API details they rely on."""

from __future__ import annotations

import re

import pytest

from syncapp.auth.accounts import find_user
from tests.conftest import bearer, make_token, make_user
from tests.web.test_pages import HTML, sign_in

EVERYONE = ["/settings", "/settings/tokens", "/settings/nas", "/settings/notifications"]
ADMINS_ONLY = ["/settings/remotes", "/settings/users", "/settings/pollers"]
SMB = {"server": "192.0.2.10", "share_name": "finance", "username": "sync", "password": "s3cret-pw"}


def page(client, path: str) -> str:
    response = client.get(path, headers=HTML)
    assert response.status_code == 200, path
    return response.get_data(as_text=True)


def create_remote(client, admin_token, name: str, kind: str, settings: dict) -> dict:
    response = client.post(
        "/api/v1/remotes",
        headers=bearer(admin_token),
        json={"name": name, "kind": kind, "settings": settings},
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()


# --- who may open what -----------------------------------------------------------------------


@pytest.mark.parametrize("path", EVERYONE + ADMINS_ONLY)
def test_settings_pages_need_a_login(client, path):
    response = client.get(path, headers=HTML)
    assert response.status_code == 302 and "/login" in response.headers["Location"]


@pytest.mark.parametrize("path", ADMINS_ONLY)
def test_admin_pages_are_forbidden_to_users(client, user, path):
    sign_in(client, user)
    response = client.get(path, headers=HTML)
    assert response.status_code == 403
    assert "<html" in response.get_data(as_text=True)
    assert "administrator" in response.get_data(as_text=True)


def test_users_see_only_their_settings_in_the_menus(client, user):
    sign_in(client, user)
    for path in EVERYONE:
        html = page(client, path)
        assert 'href="/settings/tokens"' in html and 'href="/settings/nas"' in html
        assert not any(f'href="{admin_page}"' in html for admin_page in ADMINS_ONLY), path


def test_admins_open_every_page_and_the_main_menu_links_settings(client, admin):
    sign_in(client, admin)
    for path in EVERYONE + ADMINS_ONLY:
        html = page(client, path)
        assert all(f'href="{other}"' in html for other in ADMINS_ONLY), path
        assert f'href="{path}" aria-current="page"' in html, path
    assert '<a href="/settings">Settings</a>' in page(client, "/dashboard")


def test_pages_load_only_local_scripts_and_no_inline_code(client, admin):
    sign_in(client, admin)
    for path in EVERYONE + ADMINS_ONLY:
        html = page(client, path)
        scripts = re.findall(r"<script\b[^>]*>(.*?)</script>", html, re.S)
        assert scripts and all(body.strip() == "" for body in scripts), path
        sources = re.findall(r'<script\b[^>]*\bsrc="([^"]+)"', html)
        assert "/static/js/settings.js" in sources and all(
            s.startswith("/static/") for s in sources
        )
        assert not re.search(r"\son[a-z]+=", html), path  # no inline event handlers


def test_every_form_control_has_a_label(client, admin, admin_token):
    create_remote(client, admin_token, "box", "local", {"root": "/srv/box"})
    sign_in(client, admin)
    for path in EVERYONE + ADMINS_ONLY:
        html = page(client, path)
        ids = re.findall(
            r'<(?:input|select|textarea)\b(?![^>]*type="hidden")[^>]*\bid="([^"]+)"', html
        )
        labelled = set(re.findall(r'<label for="([^"]+)"', html))
        assert set(ids) <= labelled, (path, set(ids) - labelled)


# --- what each page shows --------------------------------------------------------------------


def test_the_remotes_page_lists_remotes_without_their_secrets(client, admin, admin_token):
    sign_in(client, admin)
    assert "No stored remotes yet" in page(client, "/settings/remotes")
    smb = create_remote(client, admin_token, "office-nas", "smb", SMB)
    html = page(client, "/settings/remotes")
    assert "office-nas" in html and "192.0.2.10" in html and "finance" in html
    assert "s3cret-pw" not in html
    assert f'data-probe="/api/v1/remotes/{smb["id"]}/test"' in html
    assert f'data-edit-url="/api/v1/remotes/{smb["id"]}"' in html
    assert f'data-action="DELETE" data-url="/api/v1/remotes/{smb["id"]}"' in html
    assert "data-confirm=" in html
    # The form offers each backend's own settings, secrets as password inputs.
    assert re.search(r'name="settings.password" type="password"', html)
    assert 'name="settings.share_name"' in html and 'name="settings.root"' in html


def test_the_tokens_page_lists_only_the_users_own_tokens(app, client, user, token, admin):
    make_token(app, admin, "admin's token")
    revoked = make_token(app, user, "old laptop")
    tokens = client.get("/api/v1/tokens", headers=bearer(revoked)).get_json()
    old = next(t for t in tokens if t["name"] == "old laptop")
    assert client.delete(f"/api/v1/tokens/{old['id']}", headers=bearer(token)).status_code == 204
    sign_in(client, user)
    html = page(client, "/settings/tokens")
    assert "old laptop" in html and "revoked" in html
    assert token[:10] in html and token not in html  # the prefix, never the token
    assert "admin&#39;s token" not in html and "admin's token" not in html
    assert f'data-url="/api/v1/tokens/{old["id"]}"' not in html  # nothing left to revoke
    assert 'data-create-url="/api/v1/tokens"' in html and 'id="token-value"' in html


def test_the_users_page_lists_users_and_protects_the_signed_in_admin(app, client, admin, user):
    with app.app_context():
        me, alice = find_user(admin).id, find_user(user).id
    sign_in(client, admin)
    html = page(client, "/settings/users")
    assert admin in html and user in html and "administrator" in html
    assert f'data-url="/api/v1/users/{alice}"' in html  # delete and deactivate alice
    assert f'data-url="/api/v1/users/{me}"' not in html  # but not oneself
    assert 'data-aliases=\'{"user_exists": "email"}\'' in html


def test_the_pollers_page_lists_pollers_and_their_sources(app, client, admin, admin_token):
    sign_in(client, admin)
    empty = page(client, "/settings/pollers")
    assert "No pollers yet" in empty and 'href="/settings/remotes"' in empty
    assert 'id="poller-form"' not in empty  # nothing to read from yet
    create_remote(client, admin_token, "s3-only", "s3", {"bucket": "b"})
    box = create_remote(client, admin_token, "share", "local", {"root": str(app.instance_path)})
    created = client.post(
        "/api/v1/cordiax/pollers",
        headers=bearer(admin_token),
        json={"name": "front desk", "remote_id": box["id"], "path": "cordiax", "interval": 120},
    )
    assert created.status_code == 201
    poller = created.get_json()
    html = page(client, "/settings/pollers")
    assert "front desk" in html and "share:cordiax/cordiax_sync.zip" in html and "120 s" in html
    assert f'data-url="/api/v1/cordiax/pollers/{poller["id"]}/run"' in html
    assert f'data-probe="/api/v1/cordiax/pollers/{poller["id"]}/test"' in html
    assert '<option value="' + str(box["id"]) + '">share</option>' in html
    assert ">s3-only</option>" not in html  # pollers read only webdav, smb or local remotes


def test_the_nas_page_shows_the_target_and_how_to_change_it(make_app, tmp_path):
    app = make_app(documents={"nas_mount_path": str(tmp_path / "not-mounted")})
    client = app.test_client()
    make_user(app, "alice@example.com")
    sign_in(client, "alice@example.com")
    html = page(client, "/settings/nas")
    assert str(tmp_path / "not-mounted") in html and "not usable" in html
    assert "NAS_MOUNT_PATH" in html and "NAS_REMOTE" in html
    assert "SYNCAPP_DOCUMENTS_AUTO_SYNC_INTERVAL" in html
    assert 'data-probe="/api/v1/sync/test"' in html
    # what the Test button calls answers with the reason
    token = make_token(app, "alice@example.com")
    outcome = client.post("/api/v1/sync/test", headers=bearer(token)).get_json()
    assert outcome["success"] is False and "not-mounted" in outcome["message"]


# --- the API details the remotes page relies on ----------------------------------------------


def test_missing_remote_settings_are_reported_per_field(client, admin_token):
    response = client.post(
        "/api/v1/remotes",
        headers=bearer(admin_token),
        json={"name": "nas", "kind": "smb", "settings": {"server": "192.0.2.10"}},
    )
    assert response.status_code == 400
    errors = response.get_json()["errors"]["settings"]
    assert set(errors) == {"share_name", "username", "password"}


def test_a_remote_in_use_is_not_deleted(make_app, tmp_path):
    source = tmp_path / "source"
    source.mkdir()
    app = make_app(sync={"allowed_roots": [str(tmp_path)]})
    client = app.test_client()
    make_user(app, "root@example.com", role="admin")
    admin_token = make_token(app, "root@example.com")
    remote = create_remote(client, admin_token, "box", "local", {"root": str(tmp_path / "box")})
    job = client.post(
        "/api/v1/syncs",
        headers=bearer(admin_token),
        json={
            "name": "j",
            "source_path": str(source),
            "destination_remote": "box",
            "destination_path": "copy",
        },
    )
    assert job.status_code == 201
    response = client.delete(f"/api/v1/remotes/{remote['id']}", headers=bearer(admin_token))
    assert response.status_code == 409 and response.get_json()["error"] == "remote_in_use"
    kept = client.get(f"/api/v1/remotes/{remote['id']}", headers=bearer(admin_token))
    assert kept.status_code == 200


def test_the_notifications_page_lists_the_users_own_targets_masked(app, client, user, token):
    from tests.notifications.helpers import WEBHOOK_SECRET, target_id

    sign_in(client, user)
    html = page(client, "/settings/notifications")
    assert "No notification targets yet" in html and "Nothing sent yet" in html
    url = "https://hooks.example.com/x?token=abc123"
    hook = target_id(app.test_client(), token, name="my-script", kind="webhook", url=url,
                     secret=WEBHOOK_SECRET)  # fmt: skip
    make_user(app, "bob@example.com")
    bob = make_token(app, "bob@example.com")
    target_id(app.test_client(), bob, name="bobs-phone", kind="apprise", url="ntfys://bobs-topic")
    html = page(client, "/settings/notifications")
    assert "my-script" in html and "https://hooks.example.com/x?token=****" in html
    assert "bobs-phone" not in html and "bobs-topic" not in html
    assert WEBHOOK_SECRET not in html and "abc123" not in html
    assert f'data-probe="/api/v1/notifications/targets/{hook}/test"' in html
    assert f'data-edit-url="/api/v1/notifications/targets/{hook}"' in html
    assert f'data-action="DELETE" data-url="/api/v1/notifications/targets/{hook}"' in html
    # URLs and secrets are password inputs: never shown, left empty while editing (kept)
    assert re.search(r'name="url" type="password"', html)
    assert re.search(r'name="secret" type="password"', html)
