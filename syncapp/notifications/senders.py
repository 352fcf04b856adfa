"""Sending one message to one target: through Apprise (every service it speaks), or as a signed
webhook. No database and no Flask here: a sender gets the target's decrypted settings and the
message, and answers with `Sent` or raises `SendFailed` with a sentence free of secrets.

The signed webhook (README.md, "Notifications": "Verifying a signed webhook"):

    POST <url>
    Content-Type: application/json
    X-Syncapp-Timestamp: <unix seconds>
    X-Syncapp-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>" keyed by the secret>
    X-Syncapp-Delivery: <delivery id> (the same on every retry of one delivery)

A receiver recomputes the HMAC over the timestamp header, a dot and the raw body, compares in
constant time, and refuses a timestamp older than a few minutes (a replay); `verify_signature`
below is the reference implementation.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import apprise
import requests

SIGNATURE_HEADER = "X-Syncapp-Signature"
TIMESTAMP_HEADER = "X-Syncapp-Timestamp"
DELIVERY_HEADER = "X-Syncapp-Delivery"
#: a receiver's default tolerance for the timestamp (seconds), in verify_signature and the docs
REPLAY_TOLERANCE = 300


class SendFailed(Exception):
    """The target did not take the message; the sentence names no secret."""


@dataclass(frozen=True)
class Message:
    """What a target is told: an alert's state change, or a test."""

    event: str  # "alert.firing", "alert.resolved" or "test"
    title: str
    body: str
    payload: dict[str, Any]  # the webhook's JSON body
    failure: bool = False  # Apprise's notify type: failure (firing) or success

    @property
    def json_body(self) -> bytes:
        return json.dumps(self.payload, separators=(",", ":"), sort_keys=True).encode()


# --- the signed webhook -----------------------------------------------------------------------


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The signature header's value for `body` sent at `timestamp` (unix seconds, as text)."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify_signature(
    secret: str,
    timestamp: str,
    body: bytes,
    signature: str,
    *,
    now: float | None = None,
    tolerance: float = REPLAY_TOLERANCE,
) -> bool:
    """What a receiver does: the signature matches the body and the timestamp, and the timestamp
    is recent (older or further in the future than `tolerance` seconds: refused as a replay)."""
    try:
        sent = int(timestamp)
    except (TypeError, ValueError):
        return False
    if abs((time.time() if now is None else now) - sent) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


def send_webhook(
    url: str, secret: str, message: Message, *, delivery: str, timeout: float, now: float
) -> str:
    """POST the message's JSON, signed; any 2xx is success. `now` (unix seconds) is the
    timestamp signed: the caller's clock, so tests can drive it."""
    body = message.json_body
    timestamp = str(int(now))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "syncapp-notifications",
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: sign(secret, timestamp, body),
        DELIVERY_HEADER: delivery,
    }
    where = mask_url(url)
    try:
        response = requests.post(
            url, data=body, headers=headers, timeout=timeout, allow_redirects=False
        )
    except requests.Timeout:
        raise SendFailed(f"{where} did not answer within {timeout:g} s.") from None
    except requests.RequestException as exc:
        raise SendFailed(f"{where} could not be reached ({type(exc).__name__}).") from None
    with response:
        if not 200 <= response.status_code < 300:
            raise SendFailed(f"{where} answered HTTP {response.status_code}.")
    return f"{where} answered HTTP {response.status_code}."


# --- Apprise ----------------------------------------------------------------------------------


def _in_this_thread() -> apprise.AppriseAsset:
    """Apprise settings that send in the calling thread (no worker pool, no outer deadline: the
    plugin's socket timeouts bound it), so netguard.public_only() of that thread applies."""
    asset = apprise.AppriseAsset(service_timeout=0)
    asset.async_mode = False
    return asset


def apprise_plugin(url: str, *, sending: bool = False) -> apprise.NotifyBase | None:
    """The Apprise service `url` names, or None when Apprise cannot use it; `sending`: set up
    to send in the calling thread."""
    try:
        asset = _in_this_thread() if sending else None
        return apprise.Apprise.instantiate(url, asset=asset, suppress_exceptions=True)
    except Exception:  # a malformed URL must not be a 500; Apprise says why in its own log
        return None


def send_apprise(url: str, message: Message, *, timeout: float) -> str:
    plugin = apprise_plugin(url, sending=True)
    if plugin is None:
        raise SendFailed("Apprise cannot use this URL any more.")
    # the plugins' own socket timeouts (seconds to connect, to read)
    plugin.socket_connect_timeout = timeout
    plugin.socket_read_timeout = timeout
    notifier = apprise.Apprise(asset=plugin.asset)
    notifier.add(plugin)
    result = notifier.notify(
        body=message.body,
        title=message.title,
        notify_type=apprise.NotifyType.FAILURE if message.failure else apprise.NotifyType.SUCCESS,
    )
    if result:
        return f"Sent through {plugin.service_name}."
    said = [
        entry.message
        for entry in result.logs()
        if entry.level in ("WARNING", "ERROR", "CRITICAL") and entry.message
    ]
    reason = " ".join(dict.fromkeys(said)) or "the service refused the message"
    raise SendFailed(_without(f"{plugin.service_name}: {reason}", url))


def _without(text: str, url: str) -> str:
    """`text` with the URL's password and query values taken out, should a service echo them."""
    parts = urlsplit(url)
    for secret in (parts.password, *(v for _, _, v in _query_pairs(parts.query))):
        if secret and len(secret) >= 4:
            text = text.replace(secret, "****")
    return text


# --- masking ----------------------------------------------------------------------------------


def _query_pairs(query: str) -> list[tuple[str, str, str]]:
    pairs = []
    for item in query.split("&") if query else []:
        key, sep, value = item.partition("=")
        pairs.append((key, sep, value))
    return pairs


def mask_url(url: str, *, query: bool = True) -> str:
    """scheme://user:****@host:port/path?key=**** : the password and every query value masked
    (tokens travel there; `query=False` leaves the query out), the path kept (it says which
    hook; a segment long enough to be a token is shortened)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = host + (f":{port}" if port else "")
    if parts.username:
        netloc = parts.username + (":****" if parts.password else "") + "@" + netloc
    path = "/".join(
        (segment[:4] + "****") if len(segment) >= 20 else segment
        for segment in parts.path.split("/")
    )
    shown = "&".join(
        f"{key}{sep}{'****' if value else ''}" for key, sep, value in _query_pairs(parts.query)
    )
    return f"{parts.scheme}://{netloc}{path}" + (f"?{shown}" if shown and query else "")


def mask_apprise(url: str) -> str:
    """Apprise's own privacy form of the URL (it knows which parts of each service are secret),
    with our masking on top; its query (Apprise's defaults, or a token) left out."""
    plugin = apprise_plugin(url)
    if plugin is None:
        return mask_url(url, query=False)
    return mask_url(plugin.url(privacy=True), query=False)
