"""Connecting a user's Google Drive: seed 004's /auth/google/start, /callback and /status.

The web-server OAuth flow (authorization code, offline access): `start` remembers a random
`state` for the signed-in user and sends the browser to Google; Google sends it back to
`callback` with that state and a one-time code, which is exchanged for a refresh token, stored
encrypted. The callback is public because the browser may arrive without a session (a token-only
client, another browser profile): the state row, used once and only while fresh, says whose
account is connected. Endpoints and client come from the `google` settings (tests point them at
a local fake).
"""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from flask import redirect, request, url_for
from flask_login import current_user
from sqlalchemy import delete

from ..auth.models import User
from ..extensions import Blueprint, db
from ..failures import BadRequest, Forbidden, NotFound, ServiceUnavailable
from ..security import encrypt_secret, public
from ..settings import settings
from ..timeutil import utcnow
from .google_token import exchange_code
from .models import GoogleAccount, OAuthState
from .oauth_schemas import AuthorizationUrl, CallbackQuery, GoogleStatus, StartQuery

log = logging.getLogger(__name__)

#: How long a started authorisation may take: consent screens are quick, stale tabs are not.
STATE_LIFETIME = timedelta(minutes=10)

bp = Blueprint(
    "google_oauth", __name__, url_prefix="/auth/google", description="Google Drive authorisation"
)


def _google() -> Any:
    return settings().google


def _configured_google() -> Any:
    google = _google()
    if not google.client_id or not google.client_secret:
        raise ServiceUnavailable(
            "Google Drive is not configured on this server: an administrator sets "
            "google.client_id and google.client_secret (GOOGLE_CLIENT_ID, GOOGLE_CLIENT_SECRET).",
            code="google_not_configured",
        )
    return google


def _redirect_uri() -> str:
    return _google().redirect_uri or url_for("google_oauth.callback", _external=True)


def _json_requested(args: dict) -> bool:
    """SPAs and curl ask for JSON; a browser following a link gets redirects."""
    explicit = any(mimetype == "application/json" for mimetype, _ in request.accept_mimetypes)
    return args.get("format") == "json" or explicit


def _with_query(url: str, params: dict[str, str]) -> str:
    parts = urlsplit(url)
    extra = urlencode(params)
    return urlunsplit(parts._replace(query=f"{parts.query}&{extra}" if parts.query else extra))


def status_view(user_id: int) -> dict:
    account = db.session.get(GoogleAccount, user_id)
    return {
        "connected": account is not None,
        "user_id": user_id,
        "connected_at": account.connected_at if account else None,
        "scopes": account.scopes.split() if account else [],
    }


@bp.route("/start", methods=["GET"])
@bp.arguments(StartQuery, location="query", as_kwargs=True)
@bp.response(200, AuthorizationUrl, description="With ?format=json or Accept: application/json")
@bp.alt_response(302, description="Otherwise: a redirect to Google's consent screen")
def start(user_id: int | None = None, **args):
    """Start connecting the signed-in user's Google Drive (seed 004: `?user_id=` of oneself)."""
    if user_id is not None and user_id != current_user.id:
        raise Forbidden("You can only connect your own Google Drive.")
    google = _configured_google()
    now = utcnow()
    # Abandoned authorisations would otherwise pile up: sweep them whenever a new one starts.
    db.session.execute(delete(OAuthState).where(OAuthState.created_at < now - STATE_LIFETIME))
    state = secrets.token_urlsafe(32)
    db.session.add(OAuthState(state=state, user_id=current_user.id, created_at=now))
    db.session.commit()
    url = _with_query(
        google.auth_uri,
        {
            "client_id": google.client_id,
            "redirect_uri": _redirect_uri(),
            "response_type": "code",
            "scope": " ".join(google.scopes),
            "access_type": "offline",  # a refresh token, so replication runs without the user
            "prompt": "consent",  # Google returns a refresh token only on a consent screen
            "include_granted_scopes": "true",
            "state": state,
        },
    )
    log.info("Google authorisation started for user %s", current_user.id)
    if _json_requested(args):
        return {"authorization_url": url}
    return redirect(url, 302)


def _take_state(state: str | None) -> OAuthState:
    """The pending authorisation for `state`, deleted so that it works once."""
    pending = db.session.get(OAuthState, state) if state else None
    if pending is None:
        raise BadRequest(
            "Unknown or already used authorisation state: start again from /auth/google/start.",
            code="invalid_state",
        )
    # A conditional delete: of two callbacks racing with one state, only one gets the row.
    taken = db.session.execute(delete(OAuthState).where(OAuthState.state == pending.state))
    db.session.commit()
    if taken.rowcount != 1 or pending.created_at < utcnow() - STATE_LIFETIME:
        raise BadRequest(
            "This authorisation has expired or was already used: start again from "
            "/auth/google/start.",
            code="invalid_state",
        )
    if current_user.is_authenticated and current_user.id != pending.user_id:
        raise BadRequest("This authorisation was started by another user.", code="invalid_state")
    return pending


def _refused(error: str, description: str | None) -> BadRequest:
    if error == "access_denied":
        return BadRequest(
            "Access to Google Drive was denied on Google's consent screen; nothing was connected.",
            code="access_denied",
        )
    detail = f" ({description})" if description else ""
    return BadRequest(
        f"Google refused the authorisation: {error}{detail}.", code="google_authorization_failed"
    )


@bp.route("/callback", methods=["GET"])
@bp.arguments(CallbackQuery, location="query", as_kwargs=True)
@bp.response(200, GoogleStatus, description="With ?format=json or Accept: application/json")
@bp.alt_response(302, description="Otherwise: to google.success_redirect, ?google=connected")
@public
def callback(state: str | None = None, code: str | None = None, **args):
    """Where Google sends the browser back; the state names the user being connected."""
    pending = _take_state(state)
    if args.get("error"):
        raise _refused(args["error"], args.get("error_description"))
    if not code:
        raise BadRequest("Google sent no authorisation code.", code="missing_code")
    google = _configured_google()
    scopes = " ".join(google.scopes)
    answer = exchange_code(google, code, _redirect_uri())
    account = db.session.get(GoogleAccount, pending.user_id) or GoogleAccount(
        user_id=pending.user_id
    )
    account.refresh_token_encrypted = encrypt_secret(answer["refresh_token"])
    account.scopes = " ".join(str(answer.get("scope") or scopes).split())
    account.connected_at = utcnow()
    # The new authorisation may be for another Google account, where the old folder id means
    # nothing: the Drive remote finds or makes its folder again.
    account.folder_id = None
    db.session.add(account)
    db.session.commit()
    log.info("Google Drive connected for user %s (scopes: %s)", pending.user_id, account.scopes)
    if _json_requested(args):
        return status_view(pending.user_id)
    return redirect(_with_query(_google().success_redirect, {"google": "connected"}), 302)


@bp.route("/status/<int:user_id>", methods=["GET"])
@bp.response(200, GoogleStatus)
def status(user_id: int):
    """Whether a user's Google Drive is connected: one's own, or anyone's for administrators."""
    if user_id != current_user.id:
        if not current_user.is_admin:
            raise Forbidden("You can only see your own Google Drive connection.")
        if db.session.get(User, user_id) is None:
            raise NotFound(f"No user {user_id}.")
    return status_view(user_id)


@bp.route("", methods=["DELETE"])
@bp.response(200, GoogleStatus)
def disconnect():
    """Forget the signed-in user's Google authorisation (the files in the Drive stay)."""
    removed = db.session.execute(
        delete(GoogleAccount).where(GoogleAccount.user_id == current_user.id)
    )
    db.session.commit()
    if removed.rowcount:
        log.info("Google Drive disconnected for user %s", current_user.id)
    return status_view(current_user.id)
