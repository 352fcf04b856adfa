"""The authorisation half of the Google fake: OAuth 2.0 as Google's endpoints speak it.

Served by drive_fake.py beside the Drive API, like accounts.google.com and oauth2.googleapis.com
beside www.googleapis.com: the authorization endpoint (`GET /o/oauth2/v2/auth`) and the token
endpoint (`POST /token`, grants `authorization_code` and `refresh_token`).

No human is there to click "Allow": the authorization endpoint consents at once and redirects
the browser back with a one-time code. A request with `login_hint=deny` plays the user who
clicks "Cancel" (Google then redirects with `error=access_denied`). As with Google, a refresh
token is handed out only for `access_type=offline`; it is the one the Drive API accepts.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit, urlunsplit

AUTHORIZATION_PATH = "/o/oauth2/v2/auth"
CODE_LIFETIME = 600.0  # seconds, as Google's authorization codes
ACCESS_TOKEN_LIFETIME = 3599
GOOGLE_SCOPE_PREFIX = "https://www.googleapis.com/auth/"
OPENID_SCOPES = frozenset({"openid", "email", "profile"})
DENY_HINT = "deny"


class OAuthError(Exception):
    """An error answered in OAuth's JSON shape (RFC 6749 5.2)."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


@dataclass(frozen=True)
class Grant:
    """What the user consented to, waiting for the app to redeem its code."""

    redirect_uri: str
    scope: str
    offline: bool
    expires: float


def with_query(url: str, **params: str | None) -> str:
    parts = urlsplit(url)
    extra = urlencode({k: v for k, v in params.items() if v is not None})
    query = f"{parts.query}&{extra}" if parts.query else extra
    return urlunsplit(parts._replace(query=query))


def known_scope(scope: str) -> bool:
    return scope in OPENID_SCOPES or (
        scope.startswith(GOOGLE_SCOPE_PREFIX) and len(scope) > len(GOOGLE_SCOPE_PREFIX)
    )


class AuthorizationServer:
    """One registered web client, its redirect URIs, and the codes issued to it."""

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        refresh_token: str,
        redirect_uris: Iterable[str],
        issue_access_token: Callable[[], str],
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.refresh_token = refresh_token
        self.redirect_uris = frozenset(redirect_uris)
        self.issue_access_token = issue_access_token
        self.codes: dict[str, Grant] = {}
        self.lock = threading.Lock()

    # -- authorization endpoint
    def authorize(self, query: dict[str, str]) -> str:
        """Where the browser goes next. Errors about the client or the redirect URI are shown
        to the user (raised) and never sent to an unverified redirect URI."""
        if query.get("client_id") != self.client_id:
            raise OAuthError(401, "invalid_client", "The OAuth client was not found.")
        redirect_uri = query.get("redirect_uri", "")
        if redirect_uri not in self.redirect_uris:
            raise OAuthError(
                400, "redirect_uri_mismatch",
                f"The redirect URI in the request, {redirect_uri}, does not match the ones "
                "authorized for the OAuth client.",
            )  # fmt: skip
        state = query.get("state")
        refusal = self._refusal(query)
        if refusal is not None:
            return with_query(redirect_uri, error=refusal, state=state)
        scope = " ".join(query["scope"].split())
        code = "4/0" + secrets.token_urlsafe(32)
        grant = Grant(
            redirect_uri=redirect_uri,
            scope=scope,
            offline=query.get("access_type") == "offline",
            expires=time.monotonic() + CODE_LIFETIME,
        )
        with self.lock:
            self.codes[code] = grant
        return with_query(redirect_uri, state=state, code=code, scope=scope)

    @staticmethod
    def _refusal(query: dict[str, str]) -> str | None:
        """The error code sent back to the app, if the request cannot be granted."""
        if query.get("response_type") != "code":
            return "unsupported_response_type"
        scopes = query.get("scope", "").split()
        if not scopes or not all(known_scope(s) for s in scopes):
            return "invalid_scope"
        if query.get("access_type", "online") not in ("online", "offline"):
            return "invalid_request"
        if query.get("login_hint") == DENY_HINT:
            return "access_denied"
        return None

    # -- token endpoint
    def token(self, form: dict[str, str]) -> dict[str, str | int]:
        grant_type = form.get("grant_type")
        if grant_type == "refresh_token":
            return self._refresh(form)
        if grant_type == "authorization_code":
            return self._redeem(form)
        raise OAuthError(400, "unsupported_grant_type", f"Invalid grant_type: {grant_type}")

    def _refresh(self, form: dict[str, str]) -> dict[str, str | int]:
        presented = (form.get("client_id"), form.get("client_secret"), form.get("refresh_token"))
        if presented != (self.client_id, self.client_secret, self.refresh_token):
            raise OAuthError(400, "invalid_grant", "Token has been expired or revoked.")
        return self._access(GOOGLE_SCOPE_PREFIX + "drive")

    def _redeem(self, form: dict[str, str]) -> dict[str, str | int]:
        client = (form.get("client_id"), form.get("client_secret"))
        if client != (self.client_id, self.client_secret):
            raise OAuthError(401, "invalid_client", "Unauthorized")
        with self.lock:  # a code is redeemed once, whatever happens next
            grant = self.codes.pop(form.get("code", ""), None)
        if grant is None or grant.expires < time.monotonic():
            raise OAuthError(400, "invalid_grant", "Malformed auth code.")
        if form.get("redirect_uri") != grant.redirect_uri:
            raise OAuthError(400, "redirect_uri_mismatch", "Bad Request")
        answer = self._access(grant.scope)
        if grant.offline:
            answer["refresh_token"] = self.refresh_token
        return answer

    def _access(self, scope: str) -> dict[str, str | int]:
        return {
            "access_token": self.issue_access_token(),
            "expires_in": ACCESS_TOKEN_LIFETIME,
            "scope": scope,
            "token_type": "Bearer",
        }
