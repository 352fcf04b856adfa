"""The OpenAPI document describes every JSON route of the app (issue 11).

The routes come from the app's URL map, so a route added without flask-smorest's decorators (a
plain Flask blueprint, a missing @bp.route on the Api's blueprint) fails here instead of going
unfuzzed: tests/hardening/test_api_fuzz.py can only test what the document lists.
"""

from __future__ import annotations

import re

from flask import Flask
from werkzeug.routing import Rule

from tests.conftest import bearer, make_token, make_user
from tests.web.test_pages import HTML, sign_in

#: Endpoints that are no JSON API, each with the reason it is not in the document.
NOT_JSON: dict[str, str] = {
    "static": "static files (CSS, JS, images) under /static",
    "api-docs.openapi_json": "the OpenAPI document itself",
    "web.api_docs": "/docs, the Swagger UI page that shows the document",
    "seed_paths.redoc": "/redoc, seed 000's ReDoc page that shows the document",
    "seed_paths.liveness": "/health, seed 004's liveness answer {status, version, time}: no "
    "input, no checks (the documented /api/v1/health runs them)",
    "web.login_page": "the HTML sign-in form (GET) and its form post (POST), answered by a page "
    "or a redirect; the API signs in at /auth/login",
    "web.logout": "the HTML form post of the sign-out button, answered by a redirect",
    "prometheus.prometheus_metrics": "/metrics, Prometheus' text exposition format, not JSON",
    "events_ws.event_stream": "/api/v1/ws, the WebSocket event stream (an upgrade, no JSON reply)",
    "events_ws.websocket_upgrade_required": "/api/v1/ws without the WebSocket upgrade: the "
    "same path, answering 426",
    "restic.create_repository": "/restic/<repo>/?create=true: restic's REST backend protocol "
    "(documented by restic), answered by status codes, no JSON body",
    "restic.config": "/restic/<repo>/config: restic's REST protocol, the config file's bytes",
    "restic.listing": "/restic/<repo>/<type>/: restic's REST protocol, its own listing media "
    "types (application/vnd.x.restic.rest.v1 and v2)",
    "restic.blob": "/restic/<repo>/<type>/<name>: restic's REST protocol, an object's bytes",
}
#: Blueprints that render HTML pages for browsers; test_page_blueprints_render_html checks that
#: each of their GET routes really answers a page. (Socket.IO is no Flask route: it is the
#: WSGI middleware in front of the app, so it never shows up in the URL map.)
PAGE_BLUEPRINTS = {"web", "settings"}


def openapi_path(rule: Rule) -> str:
    """`/api/v1/files/<int:file_id>` -> `/api/v1/files/{file_id}`, as the document spells it."""
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)


def methods(rule: Rule) -> set[str]:
    return set(rule.methods or ()) - {"HEAD", "OPTIONS"}


def is_page(rule: Rule) -> bool:
    return rule.endpoint.split(".")[0] in PAGE_BLUEPRINTS


def undocumented(app: Flask, spec: dict) -> list[str]:
    """Every method of every JSON route that the document has no operation for."""
    documented = {
        (path, method.upper())
        for path, operations in spec["paths"].items()
        for method in operations
    }
    missing = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint in NOT_JSON or is_page(rule):
            continue
        for method in methods(rule):
            if (openapi_path(rule), method) not in documented:
                missing.append(f"{method} {rule.rule} ({rule.endpoint})")
    return sorted(missing)


def test_every_json_route_is_in_the_openapi_document(app, client, token):
    spec = client.get("/api/v1/openapi.json", headers=bearer(token)).get_json()
    missing = undocumented(app, spec)
    assert not missing, "routes the OpenAPI document does not describe:\n" + "\n".join(missing)
    # The exclusions name real endpoints: a renamed one must not leave a stale free pass.
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    assert set(NOT_JSON) <= endpoints, set(NOT_JSON) - endpoints


def test_a_plain_flask_route_is_reported(make_app):
    """The check finds what it is for: a JSON route added beside flask-smorest, and a method
    added to a documented path."""
    app = make_app()
    app.add_url_rule("/api/v1/extra/<int:item_id>", "extra", lambda item_id: {"id": item_id})
    app.add_url_rule("/api/v1/tokens", "tokens_put", lambda: {}, methods=["PUT"])
    make_user(app, "probe@example.com")
    headers = bearer(make_token(app, "probe@example.com"))
    spec = app.test_client().get("/api/v1/openapi.json", headers=headers).get_json()
    assert undocumented(app, spec) == [
        "GET /api/v1/extra/<int:item_id> (extra)",
        "PUT /api/v1/tokens (tokens_put)",
    ]


def test_page_blueprints_render_html(app, admin):
    """What the coverage test skips as pages are pages: every GET route of those blueprints
    without URL parameters answers HTML to a signed-in administrator, no JSON. Any other method
    on them is one of the form posts listed in NOT_JSON."""
    client = app.test_client()
    signed_in = sign_in(client, admin)
    assert signed_in.status_code in (302, 303), signed_in.get_data(as_text=True)[:300]
    checked = []
    for rule in app.url_map.iter_rules():
        if not is_page(rule) or rule.endpoint in NOT_JSON:
            continue
        assert methods(rule) == {"GET"}, f"{rule.rule}: not a page ({methods(rule)})"
        if rule.arguments:
            continue
        response = client.get(rule.rule, headers=HTML)
        assert response.status_code == 200, (rule.rule, response.status_code)
        assert response.mimetype == "text/html", (rule.rule, response.mimetype)
        checked.append(rule.rule)
    assert "/settings/tokens" in checked and "/" in checked, checked
