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


def test_a_socketio_client_without_a_token_is_dropped(live_server):
    """Connections are accepted first (Cordiax needs that), then dropped when unauthenticated."""
    import threading

    client = socketio.Client(reconnection=False)
    dropped, received = threading.Event(), []
    client.on("disconnect", lambda *args: dropped.set(), namespace="/events")
    client.on("*", lambda event, data: received.append(event), namespace="/events")
    try:
        client.connect(
            live_server.url, namespaces=["/events"], transports=["websocket"], wait_timeout=10
        )
    except socketio.exceptions.ConnectionError:
        pass  # the drop can arrive before connect() returns
    else:
        assert dropped.wait(10), "an unauthenticated /events client must be disconnected"
    finally:
        client.disconnect()
    assert "/events" not in client.namespaces
    assert received == []


@pytest.mark.peer
def test_events_travel_through_the_redis_message_queue(tmp_path, redis_url):
    """With socketio.message_queue set, an event emitted by another process reaches clients."""
    import threading

    from syncapp import create_app
    from syncapp.events import publish
    from tests.conftest import make_settings
    from tests.live import LiveServer

    server = LiveServer(tmp_path, env={"SOCKETIO_MESSAGE_QUEUE": redis_url})
    server.prepare()
    server.start()
    received: list[dict] = []
    arrived = threading.Event()
    client = socketio.Client(reconnection=False)

    @client.on("run_finished", namespace="/events")
    def on_event(data):
        received.append(data)
        arrived.set()

    try:
        client.connect(
            server.url,
            namespaces=["/events"],
            transports=["websocket"],
            auth={"token": server.token},
            wait_timeout=10,
        )
        # This test process is "another process": an app of its own on the same queue publishes.
        publisher = create_app(
            make_settings(tmp_path / "publisher", socketio={"message_queue": redis_url})
        )
        with publisher.app_context():
            publish("run_finished", {"job": 7})
        assert arrived.wait(10), "the event did not arrive through Redis"
        assert [(event["event"], event["job"]) for event in received] == [("run_finished", 7)]
    finally:
        client.disconnect()
        server.stop()
