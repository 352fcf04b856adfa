"""The two-tenant world: one live server (started as scripts/serve starts it) with an
administrator and two ordinary users, A and B, each with a token.

Every test here replays an attack of B on A's data (or of an anonymous stranger) against the
running server and checks two things: the answer (403/404, never A's names), and that A's data
is byte for byte what it was. Tests create their own things with unique names, so they share
the server without depending on each other's order.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest
import requests

from tests.live import LiveServer

#: settings of the tenancy server (environment variables, as an operator would set them)
TENANCY_ENV: dict[str, str] = {
    # Tests sign in many users from one address (test_credentials.py); the limit is tested on
    # servers of its own (tests/hardening/test_security_sessions.py).
    "SYNCAPP_SECURITY_LOGIN_RATE_LIMIT": "1000 per minute",
}


@dataclass
class Tenant:
    email: str
    password: str
    token: str
    id: int

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class Tenants:
    server: LiveServer
    admin: Tenant
    a: Tenant
    b: Tenant

    @property
    def url(self) -> str:
        return self.server.url

    def get(self, who: Tenant | None, path: str, **kwargs) -> requests.Response:
        return self.call(who, "GET", path, **kwargs)

    def call(self, who: Tenant | None, method: str, path: str, **kwargs) -> requests.Response:
        headers = {**(who.headers if who else {}), **kwargs.pop("headers", {})}
        kwargs.setdefault("timeout", 30)
        return requests.request(method, self.url + path, headers=headers, **kwargs)

    def add_users(self, *emails: str, role: str = "user") -> list[Tenant]:
        """Users with a token named "tenancy" each, made in one `flask` process."""
        passwords = ["tenant-password-" + uuid.uuid4().hex[:8] for _ in emails]
        tokens = self.server.add_users(
            *zip(emails, passwords, strict=True), role=role, token="tenancy"
        )
        tenants = []
        for email, password, token in zip(emails, passwords, tokens, strict=True):
            login = requests.post(
                f"{self.url}/auth/login", json={"email": email, "password": password}, timeout=30
            )
            login.raise_for_status()
            tenants.append(Tenant(email, password, token, login.json()["user_id"]))
        return tenants


def unique(prefix: str) -> str:
    """A name no other test uses: tests share the server, never their things."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="session")
def tenants(tmp_path_factory) -> Tenants:
    server = LiveServer(tmp_path_factory.mktemp("tenancy"), env=dict(TENANCY_ENV))
    server.prepare()
    server.start()
    admin = Tenant("live@example.com", "live-password-123", server.token, 1)
    world = Tenants(server, admin, admin, admin)
    world.a, world.b = world.add_users("alice-tenant@example.com", "bob-tenant@example.com")
    yield world
    server.stop()
