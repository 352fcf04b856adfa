"""Security review, browser sessions: cookie flags, session fixation on login, CSRF on every form
of every page, and the rate limits on login and token creation."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import PASSWORD, bearer, make_user

CSRF_FIELD = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


def cookies(response) -> dict[str, str]:
    """name -> the whole Set-Cookie line, of every cookie a response sets."""
    return {line.split("=", 1)[0]: line for line in response.headers.getlist("Set-Cookie")}


def flags(line: str) -> set[str]:
    return {part.strip().lower() for part in line.split(";")[1:]}


def login_form_token(client: FlaskClient) -> str:
    page = client.get("/login").get_data(as_text=True)
    return CSRF_FIELD.search(page).group(1)


def sign_in(client: FlaskClient, email: str, **extra: str):
    token = login_form_token(client)
    form = {"email": email, "password": PASSWORD, "csrf_token": token, **extra}
    response = client.post("/login", data=form)
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    return response


def session_cookie(client: FlaskClient) -> str:
    cookie = client.get_cookie("session")
    assert cookie is not None
    return cookie.value


# --- cookie flags ----------------------------------------------------------------------------


def test_session_and_remember_cookies_are_httponly_and_samesite_lax_not_secure_over_http(
    app, client, user
):
    response = sign_in(client, user, remember="y")
    sent = cookies(response)
    assert {"session", "remember_token"} <= sent.keys()
    for name in ("session", "remember_token"):
        assert {"httponly", "samesite=lax"} <= flags(sent[name]), sent[name]
        # over plain HTTP a Secure cookie would never come back: the app would not work
        assert "secure" not in flags(sent[name]), sent[name]


def test_cookies_are_secure_when_the_request_is_https(app, user):
    client = app.test_client()
    client.get("/login", base_url="https://localhost")
    token = CSRF_FIELD.search(
        client.get("/login", base_url="https://localhost").get_data(as_text=True)
    ).group(1)
    response = client.post(
        "/login",
        base_url="https://localhost",
        data={"email": user, "password": PASSWORD, "csrf_token": token, "remember": "y"},
    )
    assert response.status_code == 302
    sent = cookies(response)
    for name in ("session", "remember_token"):
        assert {"secure", "httponly", "samesite=lax"} <= flags(sent[name]), sent[name]
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")


@pytest.mark.parametrize(("trusted", "secure"), [(1, True), (0, False)])
def test_x_forwarded_proto_makes_cookies_secure_only_behind_a_trusted_proxy(
    make_app, trusted, secure
):
    """Behind nginx (server.trusted_proxies: 1) the scheme comes from X-Forwarded-Proto; with
    no trusted proxy the header is anybody's and changes nothing."""
    app = make_app(server={"trusted_proxies": trusted})
    client = app.test_client()
    response = client.get("/login", headers={"X-Forwarded-Proto": "https"})
    line = cookies(response)["session"]
    assert ("secure" in flags(line)) is secure, line
    assert ("Strict-Transport-Security" in response.headers) is secure


def test_the_secure_setting_forces_secure_cookies_even_over_http(make_app):
    app = make_app(security={"session_cookie_secure": True})
    response = app.test_client().get("/login")
    assert "secure" in flags(cookies(response)["session"])


# --- session fixation ------------------------------------------------------------------------


def test_signing_in_issues_a_new_session_and_the_pre_login_one_stays_anonymous(app, user):
    victim = app.test_client()
    victim.get("/login")
    planted = session_cookie(victim)  # what an attacker could have planted before sign-in
    old_csrf = login_form_token(victim)
    sign_in(victim, user)
    assert session_cookie(victim) != planted
    assert victim.get("/dashboard").status_code == 200

    attacker = app.test_client()
    attacker.set_cookie("session", planted)
    response = attacker.get("/dashboard", headers={"Accept": "text/html"})
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert attacker.get("/api/v1/tokens").status_code == 401

    # the pre-login CSRF token went with the old session: it cannot authorise a change now
    refused = victim.post("/api/v1/tokens", json={"name": "x"}, headers={"X-CSRFToken": old_csrf})
    assert refused.status_code == 400 and "CSRF" in refused.get_json()["message"]


def test_a_session_cookie_replayed_from_another_browser_is_anonymous(app, client, user):
    """Flask-Login's strong protection: the session is bound to the address and User-Agent it
    was signed in from; a stolen cookie used elsewhere is dropped."""
    sign_in(client, user)
    stolen = session_cookie(client)
    thief = app.test_client()
    thief.set_cookie("session", stolen)
    response = thief.get(
        "/dashboard", headers={"Accept": "text/html", "User-Agent": "thief-browser/1.0"}
    )
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert client.get("/dashboard").status_code == 200  # the owner's browser still works


def test_signing_out_forgets_the_login_in_the_browser(app, client, user):
    sign_in(client, user)
    page = client.get("/dashboard").get_data(as_text=True)
    client.post("/logout", data={"csrf_token": CSRF_META.search(page).group(1)})
    response = client.get("/dashboard", headers={"Accept": "text/html"})
    assert response.status_code == 302 and "/login" in response.headers["Location"]


# --- CSRF on every form ----------------------------------------------------------------------

# Pages with forms (the matrix's page rows); admin-only settings pages included.
PAGES = [
    "/dashboard",
    "/backups",
    "/cordiax",
    "/documents",
    "/syncs",
    "/cloud",
    "/docs",
    "/connect",
    "/settings",
    "/settings/nas",
    "/settings/tokens",
    "/settings/pollers",
    "/settings/remotes",
    "/settings/users",
    "/settings/notifications",
    "/scrub",
]

# Forms whose JavaScript posts somewhere their markup does not say (id -> endpoint path).
SCRIPTED_FORMS = {
    "sync-form": "/api/v1/syncs",
    # /settings/nas: Test POSTs here (Save PUTs /api/v1/sync/target, checked with every route)
    "nas-target-form": "/api/v1/sync/target/test",
}

# A body each target accepts once the CSRF check passes (so "not refused" is visible).
BODIES = {
    "/logout": {},
    "/upload": {},
    "/api/v1/upload": {},
    "/api/v1/documents": {},
    "/api/v1/syncs": {"json": {"name": "x"}},
    "/api/v1/tokens": {"json": {"name": "csrf-test"}},
    "/api/v1/cordiax/pollers": {"json": {"name": "x"}},
    "/api/v1/remotes": {"json": {"name": "x"}},
    "/api/v1/users": {"json": {"email": "x"}},
    "/api/v1/notifications/targets": {"json": {"name": "x"}},
    "/api/v1/sync/target/test": {"json": {"mount_path": "/nowhere/nas"}},
}


class FormFinder(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "form":
            self.forms.append(dict(attrs))


def template_form_ids() -> set[str]:
    """The id of every <form> in the templates' sources (whether a page renders it or not)."""
    templates = Path(__file__).resolve().parents[2] / "templates"
    found: set[str] = set()
    for template in templates.rglob("*.html"):
        finder = FormFinder()
        finder.feed(template.read_text())
        found.update(form["id"] for form in finder.forms if form.get("id"))
    return found


def form_targets(html: str, seen_ids: set[str] | None = None) -> list[str]:
    finder = FormFinder()
    finder.feed(html)
    targets = []
    for form in finder.forms:
        if seen_ids is not None and form.get("id"):
            seen_ids.add(form["id"])
        if (form.get("method") or "").lower() == "get":
            continue  # a query (the Backups page's restore plan) changes nothing: no CSRF
        target = (
            form.get("data-create-url")
            or form.get("action")
            or SCRIPTED_FORMS.get(form.get("id") or "")
        )
        assert target, f"a form without a known target: {form} (add it to SCRIPTED_FORMS)"
        targets.append(target)
    return targets


@pytest.fixture
def signed_in_admin(app, admin) -> FlaskClient:
    from tests.conftest import make_token

    # a WebDAV remote, so that the pollers page shows its form (pollers read from one)
    remote = app.test_client().post(
        "/api/v1/remotes",
        headers=bearer(make_token(app, admin)),
        json={
            "name": "share",
            "kind": "webdav",
            "settings": {"url": "http://127.0.0.1:9/", "username": "u", "password": "p"},
        },
    )
    assert remote.status_code == 201
    client = app.test_client()
    sign_in(client, admin)
    return client


def test_every_state_changing_route_refuses_a_cookie_session_without_the_token(
    app, signed_in_admin
):
    """Beyond the forms: the edit, delete and action buttons of the pages call these too."""
    checked = 0
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods & {"POST", "PUT", "PATCH", "DELETE"}):
            path = re.sub(r"<[^>]+>", "1", rule.rule)
            response = signed_in_admin.open(path, method=method, json={})
            message = (response.get_json(silent=True) or {}).get("message", "")
            assert response.status_code == 400 and "CSRF" in message, (method, path)
            checked += 1
    assert checked >= 40
    assert signed_in_admin.get("/dashboard").status_code == 200  # still signed in


def test_every_form_of_every_page_is_refused_without_its_csrf_token(signed_in_admin):
    client = signed_in_admin
    found: set[str] = set()
    seen_ids: set[str] = set()
    for path in PAGES:
        response = client.get(path)
        assert response.status_code == 200, path
        found.update(form_targets(response.get_data(as_text=True), seen_ids))
    # every form of the templates was rendered by one of these pages, so none goes unchecked
    assert template_form_ids() <= seen_ids, template_form_ids() - seen_ids
    assert found >= {"/logout", "/upload", "/api/v1/documents", "/api/v1/syncs"}, found
    assert found <= BODIES.keys(), f"forms without a body here: {found - BODIES.keys()}"
    csrf = CSRF_META.search(client.get("/settings").get_data(as_text=True)).group(1)
    for target in sorted(found - {"/logout"}):
        refused = client.post(target, **BODIES[target])
        assert refused.status_code == 400, (target, refused.status_code)
        assert "CSRF" in refused.get_json()["message"], target
        forged = client.post(target, headers={"X-CSRFToken": "forged"}, **BODIES[target])
        assert forged.status_code == 400 and "CSRF" in forged.get_json()["message"], target
        # the page's token lets the same request past the check (it may fail validation)
        allowed = client.post(target, headers={"X-CSRFToken": csrf}, **BODIES[target])
        message = (allowed.get_json(silent=True) or {}).get("message", "")
        assert "CSRF" not in message, (target, allowed.status_code, message)
    # signing out is a form too: without the token the session stays signed in
    assert client.post("/logout").status_code == 400
    assert client.get("/dashboard").status_code == 200
    assert client.post("/logout", data={"csrf_token": csrf}).status_code == 302
    assert client.get("/dashboard", headers={"Accept": "text/html"}).status_code == 302


def test_the_login_form_needs_its_csrf_token(client, user):
    """Login CSRF: a forged form would sign the victim in to the attacker's account."""
    response = client.post("/login", data={"email": user, "password": PASSWORD})
    assert response.status_code == 400
    assert client.get("/dashboard", headers={"Accept": "text/html"}).status_code == 302


def test_a_token_request_needs_no_csrf_token_but_a_cookie_request_does(signed_in_admin, app):
    from tests.conftest import make_token

    token = make_token(app, "root@example.com")
    assert signed_in_admin.post("/api/v1/tokens", json={"name": "c"}).status_code == 400
    fresh = app.test_client()
    assert (
        fresh.post("/api/v1/tokens", json={"name": "t"}, headers=bearer(token)).status_code == 201
    )


# --- rate limits -----------------------------------------------------------------------------


def test_the_login_page_is_rate_limited(make_app):
    app = make_app(security={"login_rate_limit": "3 per minute"})
    make_user(app, "alice@example.com")
    client = app.test_client()
    token = login_form_token(client)
    form = {"email": "alice@example.com", "password": "wrong", "csrf_token": token}
    statuses = [client.post("/login", data=form).status_code for _ in range(4)]
    assert statuses == [401, 401, 401, 429]
    # the right password does not get past the limit either
    form["password"] = PASSWORD
    assert client.post("/login", data=form).status_code == 429


@pytest.mark.parametrize("path", ["/auth/login", "/auth/register"])
def test_the_login_and_registration_api_are_rate_limited(make_app, path):
    app = make_app(security={"login_rate_limit": "3 per minute"})
    client = app.test_client()
    body = {"email": "nobody@example.com", "password": "long-enough-1"}
    statuses = [client.post(path, json=body).status_code for _ in range(4)]
    assert statuses[3] == 429 and 429 not in statuses[:3], statuses
    assert client.post(path, json=body).get_json()["status"] == "error"


def test_token_creation_is_rate_limited(make_app):
    app: Flask = make_app(security={"token_rate_limit": "3 per minute"})
    make_user(app, "alice@example.com")
    from tests.conftest import make_token

    headers = bearer(make_token(app, "alice@example.com"))
    client = app.test_client()
    statuses = [
        client.post("/api/v1/tokens", json={"name": f"t{n}"}, headers=headers).status_code
        for n in range(4)
    ]
    assert statuses == [201, 201, 201, 429]
    names = [t["name"] for t in client.get("/api/v1/tokens", headers=headers).get_json()]
    assert names == ["test", "t0", "t1", "t2"]  # the refused one was not created
