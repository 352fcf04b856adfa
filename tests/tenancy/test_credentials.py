"""Credentials that end when they should (issue 16, items 6 and 7), against the live server.

Revoking a token, deactivating a user, an administrator changing a password and signing out each
close the live connections those credentials opened: Socket.IO /cordiax-sync/ and /events, the
plain WebSocket /api/v1/ws. Sign-out, a password change and a deactivation end every session of
the user: the browser's, another browser's, and copies of the session and remember cookies.

Every test signs in a user of its own: they deactivate users and end sessions, which must not
reach the users other tests share.
"""

from __future__ import annotations

import json
import re
import struct
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
import requests
import socketio
import websocket

from tests.cordiax.client import NAMESPACE as CORDIAX
from tests.cordiax.client import CordiaxLikeClient
from tests.cordiax.payloads import encrypted_database
from tests.live import LiveServer
from tests.tenancy.conftest import Tenant, Tenants, unique

pytestmark = pytest.mark.e2e

#: a deadline for what must happen at once (waited on, never measured)
TIMEOUT = 30
#: the sweep that catches what no message announces runs every 5 s: a deadline well past it
SWEEP_TIMEOUT = 60
AGENT = "credentials-test-browser/1.0"
CSRF_FIELD = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')
#: the close code of a /api/v1/ws stream whose credentials ended
POLICY_VIOLATION = 1008


# --- browsers -------------------------------------------------------------------------------


class Browser:
    """A browser signed in through the login form, with "keep me signed in"."""

    def __init__(self, url: str, who: Tenant, agent: str = AGENT) -> None:
        self.url = url
        self.agent = agent
        self.http = requests.Session()
        self.http.headers["User-Agent"] = agent
        page = self.http.get(f"{url}/login", timeout=TIMEOUT).text
        form = {
            "email": who.email,
            "password": who.password,
            "csrf_token": CSRF_FIELD.search(page).group(1),
            "remember": "y",
        }
        reply = self.http.post(f"{url}/login", data=form, allow_redirects=False, timeout=TIMEOUT)
        assert reply.status_code == 302, reply.text[:300]
        #: copies of the cookies, as a thief would take them right after sign-in
        self.cookies = {name: self.http.cookies[name] for name in ("session", "remember_token")}

    def signed_in(self) -> bool:
        return answers_as_signed_in(self.http.get, self.url)

    def sign_out(self) -> None:
        page = self.http.get(f"{self.url}/dashboard", timeout=TIMEOUT).text
        form = {"csrf_token": CSRF_META.search(page).group(1)}
        reply = self.http.post(
            f"{self.url}/logout", data=form, allow_redirects=False, timeout=TIMEOUT
        )
        assert reply.status_code == 302

    def socket_headers(self) -> dict[str, str]:
        """What this browser sends when a page opens a socket: its session cookie."""
        return {"Cookie": f"session={self.cookies['session']}", "User-Agent": self.agent}


def answers_as_signed_in(
    get: Callable[..., requests.Response], url: str, headers: dict[str, str] | None = None
) -> bool:
    headers = {"Accept": "application/json", **(headers or {})}
    reply = get(f"{url}/api/v1/tokens", headers=headers, timeout=TIMEOUT)
    assert reply.status_code in (200, 401), reply.text[:300]
    return reply.status_code == 200


def copy_works(url: str, name: str, value: str, agent: str = AGENT) -> bool:
    """Whether a browser holding nothing but a copy of this one cookie is signed in (same
    address and User-Agent as its owner, so session protection alone does not refuse it)."""
    headers = {"Cookie": f"{name}={value}", "User-Agent": agent}
    return answers_as_signed_in(requests.get, url, headers)


# --- live connections -----------------------------------------------------------------------


class Cordiax:
    """A Cordiax-like client, past its first sync_ack."""

    def __init__(self, url: str, token: str, device: str) -> None:
        self.client = CordiaxLikeClient(encrypted_database(4096, seed=len(device)))
        self.gone = threading.Event()
        self.client.sio.on("disconnect", lambda *args: self.gone.set(), namespace=CORDIAX)
        self.client.connect(f"{url}?token={token}&device={device}")
        assert self.client.next_ack(timeout=TIMEOUT)["status"] == "ok"

    def closed_by_server(self) -> bool:
        return self.gone.wait(TIMEOUT)


class Events:
    """A Socket.IO /events client; `answered`: it waits for the answer to a ping (so its
    connection was authenticated)."""

    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        browser: Browser | None = None,
        answered: bool = True,
    ) -> None:
        self.client = socketio.Client(reconnection=False)
        self.gone = threading.Event()
        self.client.on("disconnect", lambda *args: self.gone.set(), namespace="/events")
        credentials = {"auth": {"token": token}} if token else {"headers": browser.socket_headers()}
        self.client.connect(
            url,
            namespaces=["/events"],
            transports=["websocket"],
            wait_timeout=TIMEOUT,
            **credentials,
        )
        assert not answered or self.answers()

    def answers(self) -> bool:
        reply = self.client.call("ping", {}, namespace="/events", timeout=TIMEOUT)
        return reply["pong"] is True

    def closed_by_server(self) -> bool:
        return self.gone.wait(TIMEOUT)


def ws_url(url: str) -> str:
    return url.replace("http://", "ws://") + "/api/v1/ws"


def open_stream(url: str, *, token: str | None = None, browser: Browser | None = None):
    """A /api/v1/ws stream past its `connected` frame."""
    if token:
        header = [f"Authorization: Bearer {token}"]
    else:
        header = [f"{name}: {value}" for name, value in browser.socket_headers().items()]
    ws = websocket.create_connection(ws_url(url), header=header, timeout=TIMEOUT)
    assert json.loads(ws.recv())["event"] == "connected"
    return ws


def close_code(ws: websocket.WebSocket) -> int:
    """Read until the server closes the stream (events may come first): its close code. Fails
    with a timeout when it stays open."""
    while True:
        frame = ws.recv_frame()
        if frame.opcode == websocket.ABNF.OPCODE_CLOSE:
            return struct.unpack("!H", frame.data[:2])[0]


def next_event(ws: websocket.WebSocket, name: str) -> dict:
    """The stream's next `name` event (fails with a timeout when none comes)."""
    while True:
        frame = json.loads(ws.recv())
        if frame["event"] == name:
            return frame


def socket_refused(url: str, browser: Browser) -> bool:
    """Whether an /events connection with this browser's session cookie is dropped."""
    try:
        events = Events(url, browser=browser, answered=False)
    except socketio.exceptions.ConnectionError:
        return True  # the drop came before connect() returned
    try:
        return events.closed_by_server()
    finally:
        events.client.disconnect()


def stream_refused(url: str, browser: Browser) -> bool:
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        open_stream(url, browser=browser)
    return refused.value.status_code == 401


@dataclass
class Connections:
    """What one user has open: with their token, and from their browser's session."""

    cordiax: Cordiax
    events_by_token: Events
    stream_by_token: websocket.WebSocket
    events_by_cookie: Events
    stream_by_cookie: websocket.WebSocket

    def close(self) -> None:
        self.cordiax.client.close()
        for events in (self.events_by_token, self.events_by_cookie):
            events.client.disconnect()
        self.stream_by_token.close()
        self.stream_by_cookie.close()


def new_user(world: Tenants) -> Tenant:
    """A user created by the administrator through the API (the CLI takes seconds a call), with
    the token /auth/login issues."""
    email, password = f"{unique('cred')}@example.com", unique("cred-password")
    body = {"email": email, "password": password}
    assert world.call(world.admin, "POST", "/api/v1/users", json=body).status_code == 201
    login = requests.post(f"{world.url}/auth/login", json=body, timeout=TIMEOUT).json()
    return Tenant(email, password, login["access_token"], login["user_id"])


@pytest.fixture
def someone(tenants: Tenants) -> Tenant:
    return new_user(tenants)


@pytest.fixture
def connections(tenants: Tenants, someone: Tenant) -> Iterator[tuple[Connections, Browser]]:
    browser = Browser(tenants.url, someone)
    opened = Connections(
        cordiax=Cordiax(tenants.url, someone.token, unique("pc")),
        events_by_token=Events(tenants.url, token=someone.token),
        stream_by_token=open_stream(tenants.url, token=someone.token),
        events_by_cookie=Events(tenants.url, browser=browser),
        stream_by_cookie=open_stream(tenants.url, browser=browser),
    )
    yield opened, browser
    opened.close()


# --- what ends credentials ------------------------------------------------------------------


def token_id(tenants: Tenants, who: Tenant) -> int:
    mine = tenants.get(who, "/api/v1/tokens").json()
    return next(token["id"] for token in mine if token["name"] == "login")


def revoke_token(tenants: Tenants, who: Tenant, browser: Browser) -> None:
    reply = tenants.call(tenants.admin, "DELETE", f"/api/v1/tokens/{token_id(tenants, who)}")
    assert reply.status_code == 204


def deactivate(tenants: Tenants, who: Tenant, browser: Browser) -> None:
    reply = tenants.call(tenants.admin, "PATCH", f"/api/v1/users/{who.id}", json={"active": False})
    assert reply.status_code == 200 and reply.json()["active"] is False


def change_password(tenants: Tenants, who: Tenant, browser: Browser) -> None:
    body = {"password": "a-new-password-" + unique("pw")}
    reply = tenants.call(tenants.admin, "PATCH", f"/api/v1/users/{who.id}", json=body)
    assert reply.status_code == 200


def sign_out(tenants: Tenants, who: Tenant, browser: Browser) -> None:
    browser.sign_out()


ENDINGS = {
    "token revoked": revoke_token,
    "user deactivated": deactivate,
    "password changed by an administrator": change_password,
    "signed out": sign_out,
}
#: what ends the user's sessions (a revoked token leaves them alone)
ENDS_SESSIONS = {"user deactivated", "password changed by an administrator", "signed out"}
#: what ends the token (a sign-out or a password change leaves the user's tokens valid)
ENDS_TOKEN = {"token revoked", "user deactivated"}


@pytest.mark.parametrize("ending", ENDINGS)
def test_ending_credentials_closes_the_live_connections_they_opened(
    tenants, someone, connections, ending
):
    opened, browser = connections
    ENDINGS[ending](tenants, someone, browser)

    # The token's connections close, whatever ended: the token or the whole user.
    assert opened.cordiax.closed_by_server(), "the Cordiax connection stayed open"
    assert opened.events_by_token.closed_by_server(), "/events (token) stayed open"
    assert close_code(opened.stream_by_token) == POLICY_VIOLATION

    if ending in ENDS_SESSIONS:
        assert opened.events_by_cookie.closed_by_server(), "/events (session) stayed open"
        assert close_code(opened.stream_by_cookie) == POLICY_VIOLATION
        assert socket_refused(tenants.url, browser)
        assert stream_refused(tenants.url, browser)
    else:
        # A revoked token closes what it opened, not what the browser's session opened: that
        # stream saw the Cordiax client go, and /events still answers.
        assert next_event(opened.stream_by_cookie, "cordiax_disconnected")
        assert opened.events_by_cookie.answers()

    pusher = CordiaxLikeClient(encrypted_database(4096, seed=7))
    try:
        pusher.connect(f"{tenants.url}?token={someone.token}&device={unique('pc')}")
        if ending in ENDS_TOKEN:
            assert pusher.next_error(timeout=TIMEOUT)["error"] == "unauthorized"
        else:
            assert pusher.next_ack(timeout=TIMEOUT)["status"] == "ok"
    finally:
        pusher.close()


def test_a_token_revoked_from_the_command_line_closes_its_connections(tenants, someone):
    """`flask tokens revoke` runs in a process of its own, which cannot reach the server's
    sockets: the server's sweep finds the revoked token in the database."""
    cordiax = Cordiax(tenants.url, someone.token, unique("pc"))
    events = Events(tenants.url, token=someone.token)
    stream = open_stream(tenants.url, token=someone.token)
    stream.settimeout(SWEEP_TIMEOUT)
    try:
        tenants.server.flask("tokens", "revoke", str(token_id(tenants, someone)))
        assert cordiax.gone.wait(SWEEP_TIMEOUT), "the Cordiax connection stayed open"
        assert events.gone.wait(SWEEP_TIMEOUT), "/events stayed open"
        assert close_code(stream) == POLICY_VIOLATION
    finally:
        cordiax.client.close()
        events.client.disconnect()
        stream.close()


# --- sessions -------------------------------------------------------------------------------


@pytest.mark.parametrize("ending", ENDINGS)
def test_copied_session_and_remember_cookies_end_with_the_sessions(tenants, someone, ending):
    browser = Browser(tenants.url, someone)
    other = Browser(tenants.url, someone, agent="another-browser/2.0")
    copied = browser.cookies
    for name, value in copied.items():
        assert copy_works(tenants.url, name, value), f"a copied {name} must work before"
    assert other.signed_in()

    ENDINGS[ending](tenants, someone, browser)

    ended = ending in ENDS_SESSIONS
    for name, value in copied.items():
        assert copy_works(tenants.url, name, value) is not ended, name
    assert other.signed_in() is not ended, "another browser's session"
    if ending != "signed out":
        assert browser.signed_in() is not ended, "the browser's own session"


def test_a_signed_out_browser_keeps_no_remember_cookie(tenants, someone):
    browser = Browser(tenants.url, someone)
    browser.sign_out()
    assert "remember_token" not in browser.http.cookies
    assert not browser.signed_in()


def test_every_sign_in_gets_a_remember_cookie_of_its_own(tenants, someone):
    first, second = Browser(tenants.url, someone), Browser(tenants.url, someone)
    assert first.cookies["remember_token"] != second.cookies["remember_token"]
    assert first.cookies["session"] != second.cookies["session"]
    for browser in (first, second):
        assert copy_works(tenants.url, "remember_token", browser.cookies["remember_token"])


def test_signing_in_again_after_signing_out_works(tenants, someone):
    Browser(tenants.url, someone).sign_out()
    again = Browser(tenants.url, someone)
    assert again.signed_in()
    assert copy_works(tenants.url, "remember_token", again.cookies["remember_token"])


# --- several processes ----------------------------------------------------------------------


@pytest.fixture
def two_processes(tmp_path_factory, redis_url) -> Iterator[tuple[LiveServer, LiveServer]]:
    """Two servers on one database and one Redis message queue, as deploy/docker-compose.yml
    runs them."""
    first = LiveServer(tmp_path_factory.mktemp("first"), env={"SOCKETIO_MESSAGE_QUEUE": redis_url})
    first.prepare()
    second_dir = tmp_path_factory.mktemp("second")
    second = LiveServer(
        second_dir, env={**first.env, "SYNCAPP_LOGGING_FILE": str(second_dir / "syncapp.log")}
    )
    first.start()
    try:
        second.start()
        yield first, second
    finally:
        second.stop()
        first.stop()


@pytest.mark.peer
def test_a_password_changed_on_one_process_closes_connections_on_another(two_processes):
    """The token stays valid after a password change, so the sweep would never close these:
    only the message on the relay does."""
    first, second = two_processes
    admin = Tenant("live@example.com", "live-password-123", first.token, 1)
    world = Tenants(first, admin, admin, admin)
    someone = new_user(world)
    cordiax = Cordiax(second.url, someone.token, unique("pc"))
    events = Events(second.url, token=someone.token)
    stream = open_stream(second.url, token=someone.token)
    try:
        change_password(world, someone, None)
        assert cordiax.closed_by_server(), "the Cordiax connection on the other process"
        assert events.closed_by_server(), "/events on the other process"
        assert close_code(stream) == POLICY_VIOLATION
    finally:
        cordiax.client.close()
        events.client.disconnect()
        stream.close()
