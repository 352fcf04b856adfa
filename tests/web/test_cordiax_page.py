"""The Cordiax page: devices and versions per user, the empty state, the live log's assets."""

from __future__ import annotations

import html
import re
from pathlib import Path

from syncapp.auth.accounts import find_user
from syncapp.cordiax.wiring import snapshot_store
from tests.conftest import make_user
from tests.cordiax.payloads import encrypted_database, sqlite_database
from tests.web.test_pages import HTML, sign_in


def store_snapshot(app, email: str, device: str, data: bytes) -> str:
    with app.app_context():
        return snapshot_store().store(find_user(email).id, device, data).snapshot.version


def scripts_of(page: str) -> list[str]:
    return re.findall(r"<script\b[^>]*>", page)


def test_the_empty_state_explains_how_to_point_cordiax_here(client, user):
    sign_in(client, user)
    response = client.get("/cordiax", headers=HTML)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "No Cordiax device yet" in page
    assert "http://localhost?token=&lt;token&gt;&amp;device=&lt;name&gt;" in page
    assert "<code>/cordiax-sync/</code>" in page
    assert 'id="cordiax-log"' in page


def test_the_page_lists_the_users_devices_and_their_versions(app, client, user):
    make_user(app, "bob@example.com")
    old = store_snapshot(app, user, "laptop", sqlite_database(2048, seed=1))
    new = store_snapshot(app, user, "laptop", encrypted_database(3 * 1024 * 1024, seed=2))
    bobs = store_snapshot(app, "bob@example.com", "office-pc", encrypted_database(4096, seed=3))
    sign_in(client, user)

    page = client.get("/cordiax", headers=HTML).get_data(as_text=True)

    assert "No Cordiax device yet" not in page
    assert 'data-device="laptop"' in page and "office-pc" not in page and bobs not in page
    assert page.index(new) < page.index(old)  # newest first
    latest = re.search(r'data-field="latest">(.*?)</p>', page, re.S).group(1)
    assert "3.0 MiB" in latest and "encrypted" in latest and 'data-count="2"' in latest
    assert "2.0 KiB" in page and "plaintext" in page and "sqlite" in page
    link = f"/api/v1/cordiax/devices/laptop/snapshots/{old}/download"
    assert f'href="{link}"' in page
    download = client.get(link)
    assert download.status_code == 200 and download.data == sqlite_database(2048, seed=1)


def test_admins_see_every_users_devices_with_their_owner(app, client, user, admin):
    store_snapshot(app, user, "laptop", encrypted_database(1024, seed=4))
    store_snapshot(app, admin, "server", encrypted_database(1024, seed=5))
    sign_in(client, admin)

    page = client.get("/cordiax", headers=HTML).get_data(as_text=True)

    assert 'data-device="laptop"' in page and 'data-device="server"' in page
    assert f"· {user}" in page and f"· {admin}" in page


def test_an_admins_links_reach_the_device_of_the_user_it_belongs_to(app, client, user, admin):
    """Both have a `laptop`: each section's links download that user's snapshot."""
    users = encrypted_database(1024, seed=6)
    admins = encrypted_database(1024, seed=7)
    versions = {
        store_snapshot(app, user, "laptop", users): users,
        store_snapshot(app, admin, "laptop", admins): admins,
    }
    sign_in(client, admin)

    page = client.get("/cordiax", headers=HTML).get_data(as_text=True)

    links = re.findall(r'href="(/api/v1/cordiax/devices/laptop/snapshots/[^"]+)"', page)
    # per version: the bytes as pushed, and the same as `cordiax.db` and as a ZIP (issue 20)
    as_pushed = [link for link in links if "as=" not in link]
    as_database = [link for link in links if "as=db" in link]
    assert len(as_pushed) == 2 and len(as_database) == 2 and len(links) == 6
    for link in as_pushed + as_database:  # an encrypted database is its own cordiax.db
        version = link.split("/snapshots/")[1].split("/")[0]
        download = client.get(html.unescape(link))
        assert download.status_code == 200 and download.data == versions[version], link


def test_the_live_log_script_and_the_vendored_client_are_served(client, user):
    sign_in(client, user)
    page = client.get("/cordiax", headers=HTML).get_data(as_text=True)

    tags = scripts_of(page)
    assert tags and all(" src=" in tag for tag in tags)  # no inline scripts
    sources = [re.search(r'src="([^"]+)"', tag).group(1) for tag in tags]
    assert sources == [
        "/static/js/layout.js",  # every page's (base.html)
        "/static/vendor/socket.io/socket.io.min.js",
        "/static/js/format.js",
        "/static/js/confirm.js",  # the snapshots' delete asks first
        "/static/js/cordiax.js",
    ]
    vendored = client.get(sources[1])
    assert vendored.status_code == 200 and b"Socket.IO v4." in vendored.data[:200]
    script = client.get(sources[-1])
    assert script.status_code == 200 and b'io("/events")' in script.data
    assert b"innerHTML" not in script.data
    vendored.close()
    script.close()


def test_the_page_is_in_the_navigation_and_needs_a_sign_in(client, user):
    assert client.get("/cordiax", headers=HTML).status_code == 302
    sign_in(client, user)
    assert 'href="/cordiax"' in client.get("/dashboard", headers=HTML).get_data(as_text=True)


def test_the_setup_instructions_stay_once_devices_exist_and_read_as_the_readme(app, client, user):
    """Issue 17 item 8: they vanished with the first device, and spelled the token command
    differently from the README."""
    store_snapshot(app, user, "laptop", encrypted_database(1024, seed=8))
    sign_in(client, user)

    page = html.unescape(client.get("/cordiax", headers=HTML).get_data(as_text=True))

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    command = ".venv/bin/flask --app app tokens create --email you@example.com --name laptop"
    assert command in " ".join(page.split()) and command in " ".join(readme.split())
    assert "http://localhost?token=<token>&device=<name>" in page
    assert "`http://HOST:PORT?token=<token>&device=<name>`" in readme
    assert "<code>/cordiax-sync/</code>" in page and "| Namespace | `/cordiax-sync/` |" in readme
    assert 'data-device="laptop"' in page
