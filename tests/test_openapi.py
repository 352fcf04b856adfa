"""The OpenAPI document and the Swagger UI page, served without any outside host."""

from __future__ import annotations

import re

from tests.conftest import bearer


def test_openapi_document_lists_the_api(client, token):
    response = client.get("/api/v1/openapi.json", headers=bearer(token))
    assert response.status_code == 200
    spec = response.get_json()
    assert spec["openapi"].startswith("3.")
    assert {"/api/v1/health", "/auth/login", "/api/v1/tokens"} <= set(spec["paths"])


def test_docs_page_loads_only_local_assets(client, token):
    page = client.get("/docs", headers=bearer(token)).get_data(as_text=True)
    # scripts, style sheets and images; the site's navigation links are no assets
    assets = re.findall(r'<(?:script|link|img)\b[^>]*?\b(?:src|href)="([^"]+)"', page)
    assert any("swagger-ui-bundle.js" in a for a in assets)
    assert all(a.startswith("/") for a in assets), assets
    for asset in assets:
        assert client.get(asset).status_code == 200, asset


def test_the_document_read_at_once_from_many_threads_is_whole_and_the_same(app, token):
    """Routes enter the document when it is first read (syncapp/extensions.py): the first
    readers, at once, must each get every route, each documented once, and the same document
    as later readers."""
    from concurrent.futures import ThreadPoolExecutor

    def read(_):
        return app.test_client().get("/api/v1/openapi.json", headers=bearer(token)).get_json()

    with ThreadPoolExecutor(8) as pool:
        first = list(pool.map(read, range(8)))
    assert all(document == first[0] for document in [*first, read(0)])
    documented = app.extensions["flask-smorest"]["blp_name_to_api"]  # the API's blueprints
    api_paths = {  # every route of theirs, as registered, in OpenAPI's notation
        re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        for rule in app.url_map.iter_rules()
        if rule.endpoint.split(".")[0] in documented
    }
    assert api_paths and api_paths <= set(first[0]["paths"])
    tags = [tag["name"] for tag in first[0]["tags"]]
    assert len(tags) == len(set(tags))  # each blueprint documented once
