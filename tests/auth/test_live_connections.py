"""Ending credentials, unit level: the login id sessions and remember cookies carry, and the
registry of live connections (which connections a change closes; the sweep; the race with a
change committed while a connection opens). tests/tenancy/test_credentials.py replays the same
against the live server with real sockets."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import update

from syncapp.auth import live_connections, users
from syncapp.auth.accounts import create_user
from syncapp.auth.live_connections import Credentials
from syncapp.auth.models import ApiToken, User
from syncapp.events import Subscription
from syncapp.extensions import db
from syncapp.security import end_sessions, issue_token, load_user, revoke_token
from syncapp.timeutil import utcnow
from tests.conftest import PASSWORD


class Registry:
    """Connections a test registers (each closes by noting its name), forgotten at the end."""

    def __init__(self) -> None:
        self.closed: list[str] = []
        self.keys: list[tuple[str, str]] = []

    def open(self, name: str, credentials: Credentials) -> bool:
        key = ("test", name)
        self.keys.append(key)
        return live_connections.register(key, credentials, lambda: self.closed.append(name))


@pytest.fixture
def registry(app) -> Iterator[Registry]:
    opened = Registry()
    with app.app_context():
        yield opened
    for key in opened.keys:
        live_connections.unregister(key)


def person(email: str, role: str = "user") -> User:
    return create_user(email, PASSWORD, role=role)


# --- the login id ---------------------------------------------------------------------------


def test_a_login_id_loads_its_user_only_while_its_generation_is_current(app):
    with app.app_context():
        user = person("gen@example.com")
        user.begin_sign_in()
        login_id = user.get_id()
        user_id, generation, nonce = login_id.split(".")
        assert (int(user_id), int(generation)) == (user.id, 0) and nonce
        assert load_user(login_id) is user

        end_sessions(user)
        assert load_user(login_id) is None
        user.begin_sign_in()
        assert load_user(user.get_id()) is user  # a sign-in after that works


@pytest.mark.parametrize(
    "login_id",
    ["{id}", "{id}.0", "{id}.0.", "{id}.x.nonce", "{id}.0.no nonce", "{id}.0.n.more", "٣.0.n"],
)
def test_a_login_id_of_another_shape_loads_nobody(app, login_id):
    """A plain id is what cookies issued before session generations hold: signed in again."""
    with app.app_context():
        user = person("shape@example.com")
        assert load_user(login_id.format(id=user.id)) is None


def test_every_sign_in_gets_a_login_id_of_its_own(app):
    with app.app_context():
        user = person("twice@example.com")
        user.begin_sign_in()
        first = user.get_id()
        assert user.get_id() == first  # stable within a sign-in
        user.begin_sign_in()
        assert user.get_id() != first
        assert load_user(first) is user  # both sign-ins are of the current generation


def test_a_password_change_or_a_deactivation_ends_sessions_but_a_rename_does_not(app):
    with app.app_context():
        user = person("changes@example.com")
        person("other-admin@example.com", role="admin")
        before = user.session_generation
        users.update_user(user, {"full_name": "Renamed", "role": "admin"}, actor_id=None)
        assert user.session_generation == before
        users.update_user(user, {"password": "another password"}, actor_id=None)
        assert user.session_generation == before + 1
        users.update_user(user, {"active": False}, actor_id=None)
        assert user.session_generation == before + 2


# --- the registry ---------------------------------------------------------------------------


def test_a_revoked_token_closes_its_connections_and_a_user_change_all_of_theirs(app, registry):
    with app.app_context():
        ana, bob = person("ana@example.com"), person("bob@example.com")
        token, _ = issue_token(ana, "pc")
        other_token, _ = issue_token(ana, "laptop")
        bobs_token, _ = issue_token(bob, "pc")
        assert registry.open("ana-pc", Credentials(ana.id, token_id=token.id))
        assert registry.open("ana-laptop", Credentials(ana.id, token_id=other_token.id))
        assert registry.open("ana-browser", Credentials(ana.id, generation=0))
        assert registry.open("bob-pc", Credentials(bob.id, token_id=bobs_token.id))

        revoke_token(token)
        assert registry.closed == ["ana-pc"]

        end_sessions(ana)  # as a sign-out does
        assert sorted(registry.closed) == ["ana-browser", "ana-laptop", "ana-pc"]


def test_a_role_change_closes_the_users_connections(app, registry):
    """A socket keeps the role it was opened with: a demoted administrator's /events stream
    stays in the administrators' room until it reconnects."""
    with app.app_context():
        boss = person("boss@example.com", role="admin")
        person("root@example.com", role="admin")
        token, _ = issue_token(boss, "dashboard")
        assert registry.open("boss", Credentials(boss.id, token_id=token.id))
        users.update_user(boss, {"role": "user"}, actor_id=None)
        assert registry.closed == ["boss"]


def test_credentials_that_ended_while_connecting_are_refused(app, registry):
    """A change committed between authentication and registration announced itself before the
    connection was there to close: registering finds it in the database instead."""
    with app.app_context():
        user = person("racing@example.com")
        token, _ = issue_token(user, "pc")
        stale_generation = user.session_generation
        end_sessions(user)
        assert not registry.open("old-session", Credentials(user.id, generation=stale_generation))
        revoke_token(token)
        assert not registry.open("revoked-token", Credentials(user.id, token_id=token.id))
        assert live_connections.cut(user.id) == 0  # nothing of them stayed registered
        assert registry.closed == []


def test_the_sweep_closes_what_ended_without_a_message(app, registry):
    """Another process (`flask tokens revoke`, an expiry) changes the database only."""
    with app.app_context():
        user, quitter = person("swept@example.com"), person("quitter@example.com")
        revoked, _ = issue_token(user, "revoked elsewhere")
        expiring, _ = issue_token(user, "expiring", lifetime=timedelta(days=1))
        kept, _ = issue_token(user, "kept")
        assert registry.open("revoked", Credentials(user.id, token_id=revoked.id))
        assert registry.open("expired", Credentials(user.id, token_id=expiring.id))
        assert registry.open("kept", Credentials(user.id, token_id=kept.id))
        assert registry.open("session", Credentials(user.id, generation=user.session_generation))
        assert registry.open("deactivated", Credentials(quitter.id, generation=0))

        past = utcnow() - timedelta(seconds=1)
        db.session.execute(
            update(ApiToken).where(ApiToken.id == revoked.id).values(revoked_at=past)
        )
        db.session.execute(
            update(ApiToken).where(ApiToken.id == expiring.id).values(expires_at=past)
        )
        db.session.execute(update(User).where(User.id == quitter.id).values(active=False))
        db.session.commit()

        assert live_connections.sweep() == 3
        assert sorted(registry.closed) == ["deactivated", "expired", "revoked"]
        assert live_connections.sweep() == 0


def test_an_ended_subscription_wakes_its_reader():
    """/api/v1/ws's stream waits in get(); end() must wake it (it then closes the stream)."""
    subscription = Subscription(user_id=1, is_admin=False)
    woken: list[dict | None] = []
    reader = threading.Thread(target=lambda: woken.append(subscription.get(timeout=None)))
    reader.start()
    subscription.end()
    reader.join(timeout=30)
    assert not reader.is_alive(), "the reader still waits for an event"
    assert woken == [None] and subscription.ended
    subscription.put({"event": "late"})
    assert subscription.get(timeout=None) is None  # nothing is read after the end
