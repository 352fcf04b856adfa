"""Bad JSON of any depth or size is a 400 with the usual envelope (issue 18 item 4)."""

from __future__ import annotations

import pytest

from tests.conftest import bearer

NESTED = "[" * 100000
LONG_NUMBER = "1" * 50000


@pytest.mark.parametrize(
    "body", [NESTED, LONG_NUMBER, '{"a": ' * 50000], ids=["list", "number", "dict"]
)
@pytest.mark.parametrize(
    ("path", "authenticated"),
    [("/auth/login", False), ("/api/v1/syncs", True), ("/api/v1/tokens", True)],
)
def test_bad_json_is_a_400_envelope(app, client, token, path, authenticated, body):
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if authenticated:
        headers.update(bearer(token))
    response = client.post(path, data=body, headers=headers)
    assert response.status_code == 400, response.get_data(as_text=True)[:300]
    envelope = response.get_json()
    assert envelope["status"] == "error"
    assert envelope["error"]
    assert envelope["message"]
