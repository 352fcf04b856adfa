"""Google's token endpoint, as the OAuth web-server flow uses it: a code in, a refresh token out.

The answer holds live credentials: none of it is logged, and errors quote only Google's error
code and description.
"""

from __future__ import annotations

import logging
from typing import Any

import requests

from ..failures import BadRequest, PeerFailed

log = logging.getLogger(__name__)

#: (connect, read) seconds: the browser is waiting on the other end of this request.
TIMEOUT = (10, 30)


def exchange_code(google: Any, code: str, redirect_uri: str) -> dict[str, Any]:
    """Redeem an authorisation code; the answer is returned only if it has a refresh token."""
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,  # must equal the one sent to the authorization endpoint
        "client_id": google.client_id,
        "client_secret": google.client_secret,
    }
    try:
        response = requests.post(
            google.token_uri,
            data=form,
            headers={"Accept": "application/json"},
            timeout=TIMEOUT,
            verify=google.ca_certs or True,
        )
    except requests.RequestException as exc:
        log.warning("Google's token endpoint could not be reached: %s", type(exc).__name__)
        raise PeerFailed(
            "Google's token endpoint could not be reached; try connecting again later.",
            code="google_unreachable",
        ) from None
    try:
        answer = response.json()
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        answer = {}
    if response.status_code != 200:
        error = str(answer.get("error") or f"HTTP {response.status_code}")
        description = answer.get("error_description")
        detail = f" ({description})" if description else ""
        log.warning("Google refused an authorisation code: %s%s", error, detail)
        raise BadRequest(
            f"Google refused the authorisation: {error}{detail}; connect again.",
            code="token_exchange_failed",
        )
    if not answer.get("refresh_token"):
        raise BadRequest(
            "Google did not return a refresh token; revoke access and connect again "
            "(https://myaccount.google.com/permissions).",
            code="no_refresh_token",
        )
    return answer
