"""A `gcs` remote (issue 17 item 19) stored through the API: the HMAC secret is kept and never
shown, and the stored remote reaches the S3 peer with GCS-style settings (tests/storage/test_gcs.py
holds the backend's own tests; they build no app, so they stay out of the PostgreSQL pass)."""

from __future__ import annotations

import pytest

from tests.conftest import bearer
from tests.peers.s3 import gcs_settings

pytestmark = pytest.mark.peer


def test_a_gcs_remote_is_stored_and_probed_through_the_api(client, admin_token, s3_server):
    body = {"name": "gcs-archive", "kind": "gcs", "settings": gcs_settings(s3_server)}
    created = client.post("/api/v1/remotes", headers=bearer(admin_token), json=body)
    assert created.status_code == 201, created.get_json()
    shown = created.get_json()
    assert "secret_access_key" not in shown["settings"]  # the HMAC secret is never returned
    probe = client.post(f"/api/v1/remotes/{shown['id']}/test", headers=bearer(admin_token))
    assert probe.get_json()["success"] is True, probe.get_json()
