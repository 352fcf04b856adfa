"""Sign-in, sign-out and CSRF on the web pages."""

from __future__ import annotations

import re

from tests.conftest import PASSWORD, bearer

HTML = {"Accept": "text/html"}


def csrf_from(page: bytes) -> str:
    match = re.search(rb'name="csrf_token" type="hidden" value="([^"]+)"', page) or re.search(
        rb'name="csrf-token" content="([^"]+)"', page
    )
    assert match, "no CSRF token on the page"
    return match.group(1).decode()


def sign_in(client, email: str, password: str = PASSWORD):
    token = csrf_from(client.get("/login", headers=HTML).data)
    return client.post(
        "/login", headers=HTML, data={"email": email, "password": password, "csrf_token": token}
    )


def test_login_page_renders_a_form_with_csrf(client):
    response = client.get("/login", headers=HTML)
    assert response.status_code == 200
    assert b"<form" in response.data and b'name="csrf_token"' in response.data
    assert b'<label for="email">' in response.data


def test_sign_in_then_dashboard_then_sign_out(client, user):
    response = sign_in(client, user)
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/dashboard")
    page = client.get("/dashboard", headers=HTML)
    assert page.status_code == 200 and user.encode() in page.data
    token = csrf_from(page.data)
    response = client.post("/logout", headers=HTML, data={"csrf_token": token})
    assert response.status_code == 302
    assert client.get("/dashboard", headers=HTML).status_code == 302


def test_a_wrong_password_shows_an_error(client, user):
    response = sign_in(client, user, "wrong password")
    assert response.status_code == 401
    assert b"Wrong email or password." in response.data
    assert client.get("/dashboard", headers=HTML).status_code == 302


def test_a_form_posted_without_its_csrf_token_is_rejected(client, user):
    response = client.post("/login", headers=HTML, data={"email": user, "password": PASSWORD})
    assert response.status_code == 400
    assert client.get("/dashboard", headers=HTML).status_code == 302


def test_sign_out_without_csrf_is_rejected(client, user):
    sign_in(client, user)
    response = client.post("/logout", headers=HTML, data={})
    assert response.status_code == 400
    assert client.get("/dashboard", headers=HTML).status_code == 200


def test_next_parameter_cannot_redirect_off_site(client, user):
    token = csrf_from(client.get("/login", headers=HTML).data)
    response = client.post(
        "/login?next=//evil.example/x",
        headers=HTML,
        data={"email": user, "password": PASSWORD, "csrf_token": token},
    )
    assert response.headers["Location"].endswith("/dashboard")


def test_cookie_authenticated_api_writes_need_the_csrf_header(client, user):
    sign_in(client, user)
    page = client.get("/dashboard", headers=HTML)
    refused = client.post("/api/v1/tokens", json={"name": "from the browser"})
    assert refused.status_code == 400
    accepted = client.post(
        "/api/v1/tokens",
        json={"name": "from the browser"},
        headers={"X-CSRFToken": csrf_from(page.data)},
    )
    assert accepted.status_code == 201


def test_token_authenticated_api_writes_need_no_csrf(client, token):
    assert (
        client.post("/api/v1/tokens", json={"name": "cron"}, headers=bearer(token)).status_code
        == 201
    )


def test_browsers_get_html_error_pages_and_scripts_get_json(client, user):
    sign_in(client, user)
    page = client.get("/no-such-page", headers=HTML)
    assert page.status_code == 404 and b"<html" in page.data
    api = client.get("/no-such-page", headers={"Accept": "*/*"})
    assert api.status_code == 404
    assert api.get_json() == {
        "status": "error",
        "error": "not_found",
        "message": api.get_json()["message"],
        "detail": api.get_json()["message"],
    }


def test_root_describes_the_service_to_api_clients(client):
    body = client.get("/", headers={"Accept": "*/*"}).get_json()
    assert body["name"] == "syncapp" and "endpoints" in body and "version" in body


def test_backups_page_shows_archives_and_an_empty_state(client, user, token):
    from tests.backups.helpers import make_archive, upload

    sign_in(client, user)
    empty = client.get("/backups", headers=HTML)
    assert empty.status_code == 200 and b"No backups yet" in empty.data and b"curl" in empty.data
    upload(client, token, make_archive(1), "full_page.tar.gz", type="FULL", profile="laptop")
    page = client.get("/backups", headers=HTML).get_data(as_text=True)
    assert "full_page.tar.gz" in page and "laptop" in page
    assert "/download/FULL/full_page.tar.gz" in page
    assert 'name="file"' in page and "<progress" in page


def test_browser_uploads_send_the_csrf_header_and_work(client, user):
    import io

    from tests.backups.helpers import make_archive

    sign_in(client, user)
    page = client.get("/backups", headers=HTML)
    form = {"file": (io.BytesIO(make_archive(2)), "full_browser.tar.gz"), "type": "FULL"}
    refused = client.post("/upload", data=dict(form), content_type="multipart/form-data")
    assert refused.status_code == 400
    form = {"file": (io.BytesIO(make_archive(2)), "full_browser.tar.gz"), "type": "FULL"}
    accepted = client.post(
        "/upload",
        data=form,
        content_type="multipart/form-data",
        headers={"X-CSRFToken": csrf_from(page.data)},
    )
    assert accepted.status_code == 201
