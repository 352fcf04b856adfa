"""The app under gunicorn (as scripts/serve runs it): health, API and Socket.IO over WebSocket."""

from __future__ import annotations

import pytest
import requests
import socketio

pytestmark = pytest.mark.e2e


def test_health_answers_under_gunicorn(live_server):
    response = requests.get(f"{live_server.url}/api/v1/health", timeout=10)
    assert response.status_code == 200
    assert response.json()["checks"]["database"]["status"] == "ok"


def test_the_api_needs_a_token_under_gunicorn(live_server):
    assert requests.get(f"{live_server.url}/api/v1/tokens", timeout=10).status_code == 401
    response = requests.get(
        f"{live_server.url}/api/v1/tokens", headers=live_server.headers, timeout=10
    )
    assert response.status_code == 200


def test_a_socketio_client_connects_over_websocket(live_server):
    client = socketio.Client(reconnection=False)
    try:
        client.connect(
            live_server.url,
            namespaces=["/events"],
            transports=["websocket"],
            auth={"token": live_server.token},
            wait_timeout=10,
        )
        assert client.transport() == "websocket"
        reply = client.call("ping", {}, namespace="/events", timeout=10)
        assert reply["pong"] is True
    finally:
        client.disconnect()


def test_a_socketio_client_without_a_token_is_refused(live_server):
    client = socketio.Client(reconnection=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        client.connect(
            live_server.url, namespaces=["/events"], transports=["websocket"], wait_timeout=10
        )
    client.disconnect()
