"""Issue 22, findings 5 and 8, as the server renders them: one number format, times as
`<time datetime>` (layout.js formats them in the browser), tables sorted and paged by
`?sort=&order=&page=`, and the smaller findings (stray `?`, titles, settings overview, the NAS
target's wording). The browser side is tests/browser/test_layout.py."""

from __future__ import annotations

import io
import re

import pytest

from syncapp.web.formats import percent, ratio, size
from tests.conftest import bearer, make_user
from tests.web.test_pages import HTML, sign_in


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (0, "0 B"),
        (1, "1 B"),
        (259, "259 B"),
        (1023, "1023 B"),
        (1024, "1.0 KiB"),
        (1659, "1.6 KiB"),
        (5 * 1024**2, "5.0 MiB"),
        (3 * 1024**4, "3.0 TiB"),
        (None, ""),
    ],
)
def test_sizes_have_one_unit_style(value, shown):
    assert size(value) == shown


@pytest.mark.parametrize(
    ("value", "shown"),
    [(0, "0 %"), (0.4, "0 %"), (25.0, "25 %"), (99.6, "99 %"), (100, "100 %"), (None, "")],
)
def test_percentages_have_one_style(value, shown):
    assert percent(value) == shown


def test_a_ratio_is_a_percentage():
    assert ratio(0.5) == "50 %" and ratio(1) == "100 %"


def upload_documents(client, token: str, names: dict[str, int]) -> None:
    for name, length in names.items():
        response = client.post(
            "/api/v1/documents",
            headers=bearer(token),
            data={
                "file": (io.BytesIO(b"x" * length), name),
                "type": "invoice",
                "date": "2024-01-15",
            },
            content_type="multipart/form-data",
        )
        assert response.status_code == 201, response.get_json()


def files_listed(html: str) -> list[str]:
    return re.findall(r'data-field="file" href="[^"]+">([^<]+)</a>', html)


def test_the_documents_table_sorts_and_pages_on_the_server(client, user, token):
    upload_documents(client, token, {"b.pdf": 300, "a.pdf": 100, "c.pdf": 200})
    sign_in(client, user)

    by_size = client.get("/documents?sort=size&order=asc", headers=HTML).get_data(as_text=True)
    assert files_listed(by_size) == ["a.pdf", "c.pdf", "b.pdf"]
    assert 'aria-sort="ascending" data-sort="size"' in by_size
    # the sorted column's link turns the direction and starts again at page 1
    assert 'href="/documents?sort=size&amp;order=desc&amp;page=1"' in by_size

    by_name = client.get("/documents?sort=file&order=desc", headers=HTML).get_data(as_text=True)
    assert files_listed(by_name) == ["c.pdf", "b.pdf", "a.pdf"]

    first = client.get("/documents?sort=file&per_page=2", headers=HTML).get_data(as_text=True)
    second = client.get("/documents?sort=file&per_page=2&page=2", headers=HTML).get_data(
        as_text=True
    )
    assert files_listed(first) == ["a.pdf", "b.pdf"] and files_listed(second) == ["c.pdf"]
    assert "1\u20132 of 3 documents" in first and "3\u20133 of 3 documents" in second
    assert 'rel="next"' in first and 'rel="prev"' in second
    # a stale or hostile link falls back to the defaults instead of failing
    odd = client.get("/documents?sort=nope&order=sideways&page=x", headers=HTML)
    assert odd.status_code == 200 and len(files_listed(odd.get_data(as_text=True))) == 3


def test_sizes_and_times_on_the_documents_page(client, user, token):
    upload_documents(client, token, {"small.pdf": 259, "large.pdf": 2048})
    sign_in(client, user)
    html = client.get("/documents", headers=HTML).get_data(as_text=True)
    assert "259 B" in html and "2.0 KiB" in html and "Bytes" not in html
    assert "0 %" in html  # nothing synced: the NAS is not configured here
    assert '<time datetime="2024-01-15"' in html
    # no raw ISO time stamp among the page's text (a <time>'s attribute is not text)
    text = re.sub(r"<[^>]+>", " ", html)
    assert not re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d", text)


def test_the_login_redirect_carries_no_stray_question_mark(client):
    plain = client.get("/settings", headers=HTML)
    assert plain.status_code == 302
    assert plain.headers["Location"].endswith("/login?next=/settings")
    asked = client.get("/documents?sort=size", headers=HTML)
    assert asked.headers["Location"].endswith("/login?next=/documents?sort%3Dsize")


def title_of(html: str) -> str:
    found = re.search(r"<title>([^<]*)</title>", html)
    assert found
    return found.group(1)


def test_settings_titles_name_the_section_once(client, user):
    sign_in(client, user)
    assert title_of(client.get("/settings", headers=HTML).get_data(as_text=True)) == (
        "Settings · syncapp"
    )
    assert title_of(client.get("/settings/tokens", headers=HTML).get_data(as_text=True)) == (
        "API tokens · Settings · syncapp"
    )


def test_the_settings_overview_shows_each_sections_state(client, admin, admin_token):
    sign_in(client, admin)
    html = client.get("/settings", headers=HTML).get_data(as_text=True)
    assert re.search(r'data-state="tokens">.*1 active token<', html)
    assert re.search(r'data-state="nas">.*not configured', html)
    assert re.search(r'data-state="targets">.*no target', html)
    assert re.search(r'data-state="remotes">.*0 remotes<', html)
    assert re.search(r'data-state="users">.*1 user<', html)


def test_a_local_nas_folder_is_not_called_an_smb_mount(make_app, tmp_path):
    folder = tmp_path / "nas"
    folder.mkdir()
    app = make_app(documents={"nas_mount_path": str(folder)})
    client = app.test_client()
    make_user(app, "alice@example.com")
    sign_in(client, "alice@example.com")
    for path in ("/settings/nas", "/documents"):
        html = client.get(path, headers=HTML).get_data(as_text=True)
        assert "SMB Mount" not in html, path
        assert "Local folder: <code" in html, path
