"""WS /api/v1/ws under gunicorn (as scripts/serve runs it): a job's events as JSON text frames,
to its owner and administrators only."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator

import pytest
import requests
import websocket

from tests.live import LiveServer
from tests.peers.process import wait_until
from tests.syncs.helpers import write_tree

pytestmark = pytest.mark.e2e

TIMEOUT = 30


class Server(LiveServer):
    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://") + "/api/v1/ws"


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[Server]:
    base = tmp_path_factory.mktemp("ws")
    (base / "roots").mkdir()
    live = Server(base, env={"SYNCAPP_SYNC_ALLOWED_ROOTS": str(base / "roots")})
    live.ana, live.bob = live.prepare(
        ("ana@example.com", "user-password-123"),
        ("bob@example.com", "user-password-123"),
        token="ws",
    )
    live.start()
    users = requests.get(f"{live.url}/api/v1/users", headers=live.headers, timeout=10).json()
    for user in users:  # a shared root is for administrators: grant it to the users
        if user["role"] == "user":
            grant = {"sync_roots": [str(base / "roots")]}
            url = f"{live.url}/api/v1/users/{user['id']}"
            assert requests.patch(url, json=grant, headers=live.headers, timeout=10).ok
    yield live
    live.stop()


def connect(server: Server, token: str, *, in_query: bool = False) -> websocket.WebSocket:
    """An open stream, past its `connected` frame (so the subscription is in place)."""
    if in_query:
        ws = websocket.create_connection(f"{server.ws_url}?token={token}", timeout=TIMEOUT)
    else:
        headers = [f"Authorization: Bearer {token}"]
        ws = websocket.create_connection(server.ws_url, header=headers, timeout=TIMEOUT)
    hello = json.loads(ws.recv())
    assert hello["event"] == "connected"
    return ws


def frames_until_finished(ws: websocket.WebSocket, job_id: int) -> list[dict]:
    """Frames up to and including the run_finished of `job_id` (recv fails after TIMEOUT)."""
    frames = []
    while True:
        frame = ws.recv()
        assert isinstance(frame, str)  # text frames, one JSON object each
        frames.append(json.loads(frame))
        if frames[-1]["event"] == "run_finished" and frames[-1]["job_id"] == job_id:
            return frames


def create_job(server: Server, token: str, name: str, files: dict[str, bytes]) -> int:
    """A job whose creation queues its first run: the server's dispatcher runs it."""
    root = server.workdir / "roots" / name
    write_tree(root / "src", files)
    (root / "dst").mkdir()
    body = {"name": name, "source_path": str(root / "src"), "destination_path": str(root / "dst")}
    headers = {"Authorization": f"Bearer {token}"}
    reply = requests.post(f"{server.url}/api/v1/syncs", json=body, headers=headers, timeout=10)
    assert reply.status_code == 201, reply.text
    return reply.json()["id"]


def test_the_stream_needs_a_valid_token(server):
    wrong = "sa_" + secrets.token_urlsafe(32)
    for url in (server.ws_url, f"{server.ws_url}?token={wrong}"):
        with pytest.raises(websocket.WebSocketBadStatusException) as refused:
            websocket.create_connection(url, timeout=TIMEOUT)
        assert refused.value.status_code == 401
    # gunicorn's access log shows the request, not the token in its query.
    log = server.workdir / "gunicorn.log"
    wait_until(lambda: "/api/v1/ws?token=" in log.read_text(), what="the access log line")
    assert wrong not in log.read_text()


def test_a_plain_get_is_told_to_upgrade(server):
    url = f"{server.url}/api/v1/ws"
    reply = requests.get(url, headers=server.headers, timeout=10)
    assert reply.status_code == 426 and reply.json()["error"] == "upgrade_required"
    assert requests.get(url, timeout=10).status_code == 401


def test_a_run_reaches_its_owner_and_admins_but_no_other_user(server):
    ana = connect(server, server.ana)
    admin = connect(server, server.token, in_query=True)  # as a browser on another site would
    bob = connect(server, server.bob)
    try:
        job_id = create_job(server, server.ana, "anas", {"a.txt": b"a" * 100, "d/b.txt": b"b"})
        seen = frames_until_finished(ana, job_id)
        names = [frame["event"] for frame in seen]
        assert "run_started" in names
        assert names.index("run_started") < names.index("run_finished")
        synced = sorted(f["path"] for f in seen if f["event"] == "file_synced")
        assert synced == ["a.txt", "d/b.txt"]
        assert seen[-1]["status"] == "completed" and seen[-1]["time"].endswith("Z")
        assert "run_started" in [f["event"] for f in frames_until_finished(admin, job_id)]

        # Bob's stream was open all along: if any of Ana's events had reached it, they would
        # come before those of the job he creates now.
        bobs_job = create_job(server, server.bob, "bobs", {"c.txt": b"c"})
        bobs = frames_until_finished(bob, bobs_job)
        assert {frame.get("job_id") for frame in bobs} == {bobs_job}
        assert "run_started" in [frame["event"] for frame in bobs]
    finally:
        for ws in (ana, admin, bob):
            ws.close()


def test_status_under_gunicorn_names_this_process_the_leader(server):
    status = requests.get(f"{server.url}/api/v1/status", headers=server.headers, timeout=10)
    scheduler = status.json()["scheduler"]
    assert (scheduler["role"], scheduler["leader"], scheduler["scheduler_running"]) == (
        "leader", True, True,
    )  # fmt: skip
    assert scheduler["dispatcher_running"] is True and scheduler["pid"] == scheduler["leader_pid"]
    health = requests.get(f"{server.url}/api/v1/health", headers=server.headers, timeout=10)
    assert health.json()["checks"]["scheduler"]["status"] == "ok"


def test_a_page_of_this_site_may_use_its_session_cookie(server):
    from tests.web.test_pages import HTML, csrf_from

    browser = requests.Session()
    form = csrf_from(browser.get(f"{server.url}/login", headers=HTML, timeout=10).content)
    signed_in = browser.post(
        f"{server.url}/login",
        headers=HTML,
        data={"email": "live@example.com", "password": "live-password-123", "csrf_token": form},
        timeout=10,
    )
    assert signed_in.status_code == 200, signed_in.status_code
    cookie = "; ".join(f"{c.name}={c.value}" for c in browser.cookies)
    # The same browser: Flask-Login's strong session protection ties the cookie to its agent.
    agent = [f"User-Agent: {browser.headers['User-Agent']}"]
    ws = websocket.create_connection(server.ws_url, cookie=cookie, origin=server.url,
                                     header=agent, timeout=TIMEOUT)  # fmt: skip
    try:
        assert json.loads(ws.recv())["event"] == "connected"
    finally:
        ws.close()
    # Another site's page would send the same cookie: without a token it is refused.
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        websocket.create_connection(server.ws_url, cookie=cookie, origin="http://evil.example",
                                    header=agent, timeout=TIMEOUT)  # fmt: skip
    assert refused.value.status_code == 401
