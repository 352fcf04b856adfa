"""Security review, responses: security headers on pages, JSON, files and errors; templates
without inline scripts or styles (so the CSP needs no 'unsafe-inline'); Content-Disposition on
every download route, safe for stored names with quotes, semicolons, non-ASCII and newlines.

The browser tests (tests/browser/) load every page under this CSP and fail on any console
error, CSP violations included: Swagger UI at /docs and Chart.js on the dashboard among them.
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from urllib.parse import unquote

import pytest

from syncapp.cordiax.wiring import snapshot_store
from syncapp.headers import CONTENT_SECURITY_POLICY
from tests.backups.helpers import make_archive
from tests.cloud.conftest import drive_cloud, place_copy  # noqa: F401 (drive_cloud: a fixture)
from tests.conftest import bearer, make_user
from tests.cordiax.payloads import encrypted_database
from tests.hardening.forms import upload_named

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"

# Stored names a user controls: quotes, a parameter separator, non-ASCII, CR/LF.
NASTY_NAMES = [
    'C:\\docs\\in"voice" ; filename=evil.exe.pdf',  # a Windows path: only the name is kept
    'reçu "août"; x=1.pdf',
    "a\r\nSet-Cookie: pwned=1\r\n.pdf",
]


def csp_directives(value: str) -> dict[str, list[str]]:
    parts = (d.strip().split() for d in value.split(";") if d.strip())
    return {d[0]: d[1:] for d in parts}


def test_the_policy_allows_no_inline_script_or_style_and_no_framing():
    policy = csp_directives(CONTENT_SECURITY_POLICY)
    for directive in ("script-src", "style-src", "default-src"):
        assert policy[directive] == ["'self'"], directive
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["object-src"] == ["'none'"]
    assert "'unsafe-inline'" not in CONTENT_SECURITY_POLICY
    assert "'unsafe-eval'" not in CONTENT_SECURITY_POLICY


@pytest.mark.parametrize(
    ("path", "accept", "status"),
    [
        ("/login", "text/html", 200),
        ("/dashboard", "text/html", 200),
        ("/docs", "text/html", 200),
        ("/settings/tokens", "text/html", 200),
        ("/api/v1/tokens", "application/json", 200),
        ("/api/v1/health", "application/json", 200),
        ("/api/v1/openapi.json", "application/json", 200),
        ("/static/js/format.js", "*/*", 200),
        ("/api/v1/documents/999999", "application/json", 404),
        ("/nowhere", "text/html", 404),
    ],
)
def test_every_kind_of_response_carries_the_security_headers(client, token, path, accept, status):
    response = client.get(path, headers={**bearer(token), "Accept": accept})
    assert response.status_code == status
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "same-origin"
    policy = csp_directives(response.headers["Content-Security-Policy"])
    assert policy["frame-ancestors"] == ["'none'"] and policy["script-src"] == ["'self'"]
    assert "Strict-Transport-Security" not in response.headers  # plain HTTP: meaningless


def test_unauthenticated_answers_carry_them_too(client):
    for path, accept in (("/api/v1/tokens", "application/json"), ("/dashboard", "text/html")):
        response = client.get(path, headers={"Accept": accept})
        assert response.status_code in (401, 302)
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


def test_templates_hold_no_inline_script_style_or_event_handler():
    problems = []
    for template in sorted(TEMPLATES.rglob("*.html")):
        text = template.read_text()
        for found in re.finditer(r"<script\b[^>]*>", text):
            if "src=" not in found.group(0):
                problems.append(f"{template.name}: inline {found.group(0)}")
        if re.search(r"<style\b", text):
            problems.append(f"{template.name}: <style> block")
        if re.search(r"\sstyle\s*=", text):
            problems.append(f"{template.name}: style= attribute")
        if re.search(r"\son[a-z]+\s*=", text):
            problems.append(f"{template.name}: on...= event handler")
        if "javascript:" in text:
            problems.append(f"{template.name}: javascript: URL")
    assert problems == []


# --- Content-Disposition ---------------------------------------------------------------------

# Every route that sends a file's bytes, and the test below that checks its header.
DOWNLOAD_ROUTES = {
    "documents.download_document": "test_document_and_cloud_downloads_quote_any_stored_name",
    "cloud.download_version": "test_document_and_cloud_downloads_quote_any_stored_name",
    "cloud.get_file": "test_document_and_cloud_downloads_quote_any_stored_name",  # ?download=
    "cloud.download_link": "test_a_drive_link_download_is_an_attachment_with_the_stored_name",
    "backups.download_backup": "test_backup_and_snapshot_downloads_are_attachments",
    "cordiax.download_snapshot": "test_backup_and_snapshot_downloads_are_attachments",
    "cordiax.download_latest": "test_backup_and_snapshot_downloads_are_attachments",
}


def test_every_download_route_is_checked(app):
    downloads = {
        rule.endpoint
        for rule in app.url_map.iter_rules()
        if "download" in rule.endpoint or "download" in rule.rule
    }
    assert downloads - {"cloud.get_file"} <= DOWNLOAD_ROUTES.keys(), downloads


PARAM = re.compile(r';\s*([^=\s;]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)')


def disposition(response) -> tuple[str, str | None]:
    """(type, filename) as RFC 6266 reads them: filename* (RFC 8187) wins over filename."""
    values = response.headers.getlist("Content-Disposition")
    assert len(values) == 1, values
    value = values[0]
    assert "\r" not in value and "\n" not in value
    kind = value.split(";", 1)[0].strip()
    params = {}
    for name, raw in PARAM.findall(value):
        if raw.startswith('"'):
            raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
        params[name.lower()] = raw
    # nothing else than these parameters: a stored name cannot add one of its own
    assert set(params) <= {"filename", "filename*"}, params
    if "filename*" in params:
        charset, _, encoded = params["filename*"].partition("''")
        assert charset.upper() == "UTF-8"
        return kind, unquote(encoded, encoding="utf-8", errors="strict")
    return kind, params.get("filename")


def no_injected_headers(response) -> None:
    assert "pwned" not in str(response.headers.get("Set-Cookie", ""))
    assert all("pwned" not in name.lower() for name, _ in response.headers)


@pytest.mark.parametrize("name", NASTY_NAMES, ids=["quotes", "non-ascii", "crlf"])
def test_document_and_cloud_downloads_quote_any_stored_name(client, token, name):
    document = upload_named(
        client, "/api/v1/documents", token, name, b"%PDF-1.4 data", type="invoice"
    ).get_json()
    stored = document["filename"]
    # what reaches the store: the name without control characters or a (Windows) folder part,
    # quotes and all
    assert stored == name.replace("\r", "").replace("\n", "").split("\\")[-1].strip()
    assert stored.startswith(('in"voice"', 'reçu "', "aSet-Cookie")), stored
    response = client.get(f"/api/v1/documents/{document['id']}/download", headers=bearer(token))
    assert response.status_code == 200 and response.data == b"%PDF-1.4 data"
    assert disposition(response) == ("attachment", stored)
    no_injected_headers(response)
    if not stored.isascii():
        assert "filename*=UTF-8''" in response.headers["Content-Disposition"]

    upload = upload_named(client, "/api/v1/upload", token, name, b"cloud data").get_json()
    assert upload["filename"] == stored
    for path, query in (
        (f"/api/v1/files/{upload['file_id']}/versions/1/download", {}),
        (f"/api/v1/files/{upload['file_id']}", {"download": "true"}),
    ):
        response = client.get(path, headers=bearer(token), query_string=query)
        assert response.status_code == 200 and response.data == b"cloud data"
        assert disposition(response) == ("attachment", stored)
        no_injected_headers(response)


def test_backup_and_snapshot_downloads_are_attachments(app, client, token):
    name = "full_2025-03-01_00-00-00.tar.gz"
    form = {"file": (io.BytesIO(make_archive(3)), name), "type": "FULL", "profile": "p"}
    client.post("/upload", headers=bearer(token), data=form, content_type="multipart/form-data")
    response = client.get(f"/download/FULL/{name}", headers=bearer(token))
    assert response.status_code == 200
    assert disposition(response) == ("attachment", name)

    user_id = make_user(app, "dev@example.com")
    from tests.conftest import make_token

    dev = bearer(make_token(app, "dev@example.com"))
    with app.app_context():
        snapshot = snapshot_store().store(user_id, "pc-1", encrypted_database(500)).snapshot
    for path in (
        f"/api/v1/cordiax/devices/pc-1/snapshots/{snapshot.version}/download",
        "/api/v1/cordiax/devices/pc-1/latest/download",
    ):
        response = client.get(path, headers=dev)
        assert response.status_code == 200 and len(response.data) == snapshot.size
        response.close()
        kind, filename = disposition(response)
        assert kind == "attachment" and filename and filename.startswith("pc-1")


@pytest.mark.peer
def test_a_drive_link_download_is_an_attachment_with_the_stored_name(drive_cloud):  # noqa: F811
    alice, app = drive_cloud, drive_cloud.app
    data = b"drive bytes"
    uploaded = alice.uploaded(data, NASTY_NAMES[1])
    place_copy(app, alice.id, uploaded["file_id"], "google", data)
    link = alice.get(
        f"/api/v1/files/{uploaded['file_id']}", download="true", from_storage="google"
    ).get_json()
    fetched = app.test_client().get(link["download_url"])
    assert fetched.status_code == 200 and fetched.data == data
    assert disposition(fetched) == ("attachment", uploaded["filename"])
