"""The Documents page: upload form, list with sync state, NAS panel; its buttons' POSTs."""

from __future__ import annotations

from tests.conftest import make_token, make_user
from tests.documents.helpers import uploaded
from tests.web.test_pages import HTML, csrf_from, sign_in


def test_the_page_lists_documents_with_their_sync_state_and_the_nas_panel(app, client, user):
    token = make_token(app, user)
    uploaded(client, token, b"x", "facture-mars.pdf", "invoice", date="2024-03-15")
    make_user(app, "bob@example.com")
    uploaded(client, make_token(app, "bob@example.com"), b"y", "bobs-secret.pdf")
    sign_in(client, user)
    page = client.get("/documents", headers=HTML)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'class="upload-form"' in html and 'action="/api/v1/documents"' in html
    assert "facture-mars.pdf" in html and "2024-03-15" in html and "pending" in html
    assert "bobs-secret.pdf" not in html
    assert 'id="nas-percentage">0 %' in html and "not configured" in html
    assert 'data-nas-action="/api/v1/sync/test"' in html
    assert 'data-nas-action="/api/v1/sync/run"' in html
    assert "/static/js/documents.js" in html and "<script>" not in html
    assert 'href="/documents"' in html  # the nav link


def test_the_buttons_post_with_the_pages_csrf_token(app, client, user):
    sign_in(client, user)
    csrf = csrf_from(client.get("/documents", headers=HTML).data)
    assert client.post("/api/v1/sync/test").status_code == 400  # no CSRF token: refused
    response = client.post("/api/v1/sync/test", headers={"X-CSRFToken": csrf})
    assert response.status_code == 200
    assert response.get_json()["success"] is False
    assert client.post("/api/v1/sync/run", headers={"X-CSRFToken": csrf}).status_code == 400


def test_the_page_needs_a_session(client):
    assert client.get("/documents", headers=HTML).status_code == 302
