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
