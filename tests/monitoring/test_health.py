"""Health answers without authentication and names the failing check."""

from __future__ import annotations

from syncapp import create_app
from tests.conftest import make_settings
from tests.peers.process import free_port


def test_health_is_ok_without_credentials(client):
    response = client.get("/api/v1/health")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ok"
    assert body["checks"]["database"]["status"] == "ok"
    assert body["time"].endswith("Z")


def test_health_reports_503_naming_the_database_when_it_is_down(tmp_path):
    dead = f"postgresql://nobody@127.0.0.1:{free_port()}/none?connect_timeout=2"
    app = create_app(make_settings(tmp_path, database={"url": dead}))
    response = app.test_client().get("/api/v1/health")
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "error"
    assert body["checks"]["database"]["status"] == "error"
    assert "database" in body["message"]
