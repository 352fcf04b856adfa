"""Authentication and secrets: API tokens, who may call what, CSRF, encryption of stored secrets.

Every endpoint needs an authenticated user unless its view is marked `@public`. A request is
authenticated either by a Flask-Login session cookie (browsers) or by an API token (scripts and
clients), sent as `Authorization: Bearer`, `X-API-Key`, or as the password of HTTP Basic
credentials, so `http://x:<token>@host` works for scripts that cannot add headers.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import ipaddress
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

from cryptography.fernet import Fernet, InvalidToken
from flask import current_app, g, redirect, request, session, url_for
from flask_login import current_user, login_user, logout_user
from flask_wtf.csrf import CSRFError, validate_csrf
from sqlalchemy import Select, bindparam, select, update
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.util import identity_key

from . import tenancy
from .auth.live_connections import credentials_changed
from .auth.models import ApiToken, User, token_valid
from .errors import wants_json
from .extensions import db, login_manager
from .failures import Forbidden, Unauthorized
from .settings import settings
from .timeutil import utcnow

F = TypeVar("F", bound=Callable[..., Any])

TOKEN_PREFIX = "sa_"
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})


# --- view markers ----------------------------------------------------------------------------


def public(view: F) -> F:
    """Mark a view as reachable without authentication."""
    view.is_public = True  # type: ignore[attr-defined]
    return view


def admin_required(view: F) -> F:
    view.required_role = "admin"  # type: ignore[attr-defined]
    return view


def streams_body(view: F) -> F:
    """The view reads the request body itself: nothing may parse the form before it.

    It also starts without a database connection: authentication's query leaves one checked
    out until the request ends, and a body may take minutes to arrive, so 50 concurrent uploads
    held 50 pooled connections and the rest timed out with 503 (bench/load.py). Ending the
    transaction returns it; what was loaded (current_user) reloads when next used."""

    @functools.wraps(view)
    def streaming_view(*args: Any, **kwargs: Any) -> Any:
        db.session.commit()  # nothing is pending here; this only ends the read transaction
        return view(*args, **kwargs)

    streaming_view.streams_body = True  # type: ignore[attr-defined]
    return streaming_view  # type: ignore[return-value]


def anonymous_from_networks(section: str) -> Callable[[F], F]:
    """Admit unauthenticated calls when `<section>.allow_anonymous` is on and the client's
    address is in `<section>.anonymous_networks` (closed LANs with unmodifiable scripts)."""

    def mark(view: F) -> F:
        view.anonymous_section = section  # type: ignore[attr-defined]
        return view

    return mark


def _anonymous_allowed() -> bool:
    section = _view_attr("anonymous_section")
    return section is not None and anonymous_network_allows(section)


def anonymous_network_allows(section: str) -> bool:
    """`<section>.allow_anonymous` is on and this request comes from one of
    `<section>.anonymous_networks`."""
    options = getattr(settings(), section)
    if not options.allow_anonymous or not request.remote_addr:
        return False
    try:
        address = ipaddress.ip_address(request.remote_addr)
    except ValueError:
        return False
    return any(
        address in ipaddress.ip_network(net, strict=False) for net in options.anonymous_networks
    )


def _view_attr(name: str) -> Any:
    view = current_app.view_functions.get(request.endpoint or "")
    return getattr(view, name, None)


# --- tokens ----------------------------------------------------------------------------------


def hash_token(raw: str) -> str:
    # Tokens carry 256 random bits, so a fast hash is enough; bcrypt would only slow every call.
    return hashlib.sha256(raw.encode()).hexdigest()


def issue_token(
    user: User, name: str, *, lifetime: timedelta | None = None
) -> tuple[ApiToken, str]:
    """Create a token; the raw value is returned once and never stored."""
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        user=user,
        name=name,
        token_hash=hash_token(raw),
        prefix=raw[:10],
        expires_at=utcnow() + lifetime if lifetime else None,
    )
    db.session.add(token)
    db.session.commit()
    return token, raw


def revoke_token(token: ApiToken) -> None:
    """Revoke `token` and close the live connections it opened, in every process."""
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        db.session.commit()
        credentials_changed(token.user_id, token.id)


def raw_token_from_request() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    if request.headers.get("X-API-Key"):
        return request.headers["X-API-Key"].strip()
    if scheme.lower() == "basic" and request.authorization and request.authorization.password:
        return request.authorization.password
    return None


@dataclass(frozen=True)
class PresentedToken:
    """The API token a request authenticated with (g.api_token)."""

    id: int
    user_id: int
    name: str
    scopes: list[str] | None


#: The token and its user in one Core statement, built and compiled once: the ORM's select with
#: a joined load was about a third of a small API call's CPU (py-spy under bench/api_rate.py).
#: Read on every request, with no cache, so a revocation, a deactivation or a role change made
#: by any process (the CLI included) counts from the next request on.
_TOKEN_USER_PREFIX = "user_"  # the user's columns, labelled apart from the token's


@functools.cache
def _token_lookup() -> tuple[Select, tuple[str, ...]]:
    """The statement and the user's attribute names; made on first use, when every model is
    mapped (User's mapper cannot be configured while this module is being imported)."""
    tokens, users = ApiToken.__table__, User.__table__
    user_columns = User.__mapper__.column_attrs
    statement = (
        select(
            tokens.c.id,
            tokens.c.name,
            tokens.c.scopes,
            tokens.c.last_used_at,
            tokens.c.expires_at,
            tokens.c.revoked_at,
            *(attr.columns[0].label(_TOKEN_USER_PREFIX + attr.key) for attr in user_columns),
        )
        .join_from(tokens, users, tokens.c.user_id == users.c.id)
        .where(tokens.c.token_hash == bindparam("token_hash"))
    )
    return statement, tuple(attr.key for attr in user_columns)


def user_for_token(raw: str) -> User | None:
    api_key = settings().security.api_key
    if api_key and secrets.compare_digest(raw.encode(), api_key.encode()):
        # seed 000's single shared key acts for the first admin
        return db.session.scalar(select(User).where(User.role == "admin").order_by(User.id))
    statement, _ = _token_lookup()
    row = db.session.execute(statement, {"token_hash": hash_token(raw)}).first()
    if row is None or not token_valid(row.revoked_at, row.expires_at) or not row.user_active:
        return None
    now = utcnow()
    if row.last_used_at is None or now - row.last_used_at > timedelta(minutes=1):
        # throttled so that busy scripts do not write on every call
        db.session.execute(update(ApiToken).where(ApiToken.id == row.id).values(last_used_at=now))
        db.session.commit()
    # Plain values: views end their transaction before long transfers, and an expired ORM
    # token read then (its scopes, for one) would open a new one for the rest of the request.
    scopes = None if row.scopes is None else list(row.scopes)
    g.api_token = PresentedToken(row.id, row.user_id, row.name, scopes)
    return _session_user(row)


def _session_user(row: Any) -> User:
    """The token's user as a row of the request's session, made from the columns just read
    rather than loaded again: the session's own copy if it has one, else a new instance that
    the session takes as loaded (SQLAlchemy's make_transient_to_detached, then add)."""
    session = db.session()
    existing = session.identity_map.get(identity_key(User, row.user_id))  # user_ + id
    if existing is not None:
        return existing
    _, keys = _token_lookup()
    # As the ORM makes a loaded row: a new instance without __init__, its columns set in its
    # __dict__ (no attribute events: User(**columns) was a third of this function's CPU).
    user = User.__mapper__.class_manager.new_instance()
    mapping = row._mapping
    user.__dict__.update({key: mapping[_TOKEN_USER_PREFIX + key] for key in keys})
    make_transient_to_detached(user)
    session.add(user)
    return user


# --- browser sessions ------------------------------------------------------------------------

#: User.get_id(): id, session generation, sign-in nonce
_LOGIN_ID = re.compile(r"([0-9]{1,18})\.([0-9]{1,18})\.([A-Za-z0-9_-]{1,64})")


@login_manager.user_loader
def load_user(login_id: str) -> User | None:
    """The user of a session or remember cookie, which carries User.get_id(). A cookie of an
    older session generation (the user signed out, changed password or was deactivated since)
    or of another shape (issued before generations existed) loads nobody."""
    found = _LOGIN_ID.fullmatch(login_id)
    if found is None:
        return None
    user_id, generation, nonce = found.groups()
    user = db.session.get(User, int(user_id))
    if user is None or not user.is_active or user.session_generation != int(generation):
        return None
    user.resume_sign_in(nonce)
    g.session_generation = user.session_generation
    return user


def sign_in(user: User, *, remember: bool) -> None:
    """A fresh session (no fixation of a pre-login one) holding a new sign-in of `user`."""
    session.clear()
    user.begin_sign_in()
    login_user(user, remember=remember)


def sign_out() -> None:
    """End every session of the signed-in user (this browser's, other browsers', copies of
    their cookies) and their live connections, then forget the login here."""
    end_sessions(current_user._get_current_object())
    session.clear()
    logout_user()  # after clear(): it marks the remember cookie for deletion in the session


def end_sessions(user: User) -> None:
    """Every session and remember cookie of `user` stops working, and every live connection
    of the user is closed, in every process."""
    user.end_sessions()
    db.session.commit()
    credentials_changed(user.id)


@login_manager.request_loader
def load_user_from_request(_request) -> User | None:
    # Reads headers only: upload routes stream the body, so nothing here may touch request.form.
    raw = raw_token_from_request()
    if raw is None:
        return None
    g.token_presented = True
    user = user_for_token(raw)
    g.token_auth = user is not None
    return user


@login_manager.unauthorized_handler
def unauthorized():
    if wants_json():
        raise Unauthorized(_unauthorized_message())
    # full_path ends in a bare "?" when there is no query string: not part of the address
    here = request.full_path if request.query_string else request.path
    return redirect(url_for("web.login_page", next=here))


def _unauthorized_message() -> str:
    if g.get("token_presented"):
        return "The API token is invalid, expired or revoked."
    return "Authentication required: send 'Authorization: Bearer <token>' or log in."


def caller_id(what: str) -> int:
    """The signed-in user's id, for views whose `what` belong to a user (a view reachable
    anonymously, e.g. from `anonymous_networks`, cannot take a user for granted)."""
    if not current_user.is_authenticated:
        raise Unauthorized(f"Authentication required: {what} belong to a user.")
    return current_user.id


def owner_scope(what: str) -> int | None:
    """Whose `what` the caller may see: their own, or everyone's (None) for an administrator."""
    me = caller_id(what)
    return None if current_user.is_admin else me


def is_token_request() -> bool:
    return bool(g.get("token_auth"))


def enforce_authentication():
    """before_request: deny by default; views opt out with @public, opt in to roles."""
    if request.endpoint is None or request.endpoint == "static" or _view_attr("is_public"):
        return None
    if not current_user.is_authenticated:
        if _anonymous_allowed():
            return None
        return login_manager.unauthorized()
    tenancy.enforce_token_scope()
    role = _view_attr("required_role")
    if role == "admin" and not current_user.is_admin:
        raise Forbidden("This action needs an administrator.")
    return None


def enforce_csrf():
    """before_request: cookie-authenticated requests that change state must carry a CSRF token.

    Token-authenticated requests are exempt: a browser never attaches an API token by itself.
    Streaming upload routes take the token from the X-CSRFToken header only.
    """
    if request.method not in STATE_CHANGING or not current_app.config.get("WTF_CSRF_ENABLED", True):
        return None
    # Only a session cookie is ambient authority a forged request could ride on; anonymous
    # requests either fail authentication or reach views meant for them (login, LAN uploads).
    if request.endpoint is None or is_token_request() or not current_user.is_authenticated:
        return None
    raw = raw_token_from_request()
    if raw is not None and user_for_token(raw) is not None:
        return None  # a valid token sent beside the session cookie: no forged request has one
    token = request.headers.get("X-CSRFToken") or request.headers.get("X-CSRF-Token")
    if token is None and not _view_attr("streams_body"):
        token = request.form.get("csrf_token")
    try:
        validate_csrf(token)
    except Exception as exc:  # ValidationError from wtforms
        raise CSRFError(str(exc)) from None
    return None


# --- secrets at rest -------------------------------------------------------------------------


def _fernet() -> Fernet:
    secret = current_app.config["SECRET_KEY"].encode()
    key = hashlib.sha256(b"syncapp stored secrets\x00" + secret).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def encrypt_secret(value: str) -> str:
    return _fernet().encrypt(value.encode()).decode()


def decrypt_secret(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise ValueError("a stored secret cannot be decrypted: was SECRET_KEY changed?") from None


def login_token_lifetime() -> timedelta:
    return timedelta(hours=settings().security.login_token_hours)
