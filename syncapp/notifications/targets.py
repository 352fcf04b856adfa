"""Saving, validating and reading notification targets (no Flask request code here).

A target's URL and webhook secret are secrets (an Apprise URL carries the service's password or
token): they are stored encrypted like stored remotes' settings (security.encrypt_secret) and
only `url_masked` is ever shown.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..auth.models import User
from ..failures import BadRequest, Conflict, NotFound
from ..security import decrypt_secret, encrypt_secret
from . import netguard
from .models import TARGET_KINDS, NotificationTarget
from .senders import apprise_plugin, mask_apprise, mask_url

#: a webhook secret shorter than this is refused: it keys the HMAC receivers trust
MIN_SECRET_LENGTH = 16


@dataclass(frozen=True)
class Secrets:
    url: str
    secret: str | None = None


def secrets_of(target: NotificationTarget) -> Secrets:
    stored = json.loads(decrypt_secret(target.secrets_encrypted))
    return Secrets(url=stored["url"], secret=stored.get("secret"))


def _store(target: NotificationTarget, secrets: Secrets) -> None:
    target.secrets_encrypted = encrypt_secret(
        json.dumps({"url": secrets.url, "secret": secrets.secret})
    )
    target.url_masked = (
        mask_apprise(secrets.url) if target.kind == "apprise" else mask_url(secrets.url)
    )


def _invalid(field: str, sentence: str) -> BadRequest:
    return BadRequest(sentence, code="invalid_target", errors={field: [sentence]})


def check_url(kind: str, url: str, allowed_schemes: tuple[str, ...] = ()) -> None:
    """Refuse a URL the target could never send to; the sentence never repeats the URL."""
    scheme = urlsplit(url).scheme.lower()
    if kind == "webhook":
        parts = urlsplit(url)
        if scheme not in ("http", "https") or not parts.hostname:
            raise _invalid("url", "A webhook URL is http:// or https:// with a host.")
        return
    if not scheme:
        raise _invalid(
            "url", "Not an Apprise URL: it starts with the service, e.g. mailtos:// or ntfys://."
        )
    if allowed_schemes and scheme not in allowed_schemes:
        raise _invalid(
            "url",
            f"Apprise URLs of the kind {scheme}:// are not allowed here "
            f"(allowed: {', '.join(allowed_schemes)}).",
        )
    if apprise_plugin(url) is None:
        raise _invalid(
            "url",
            f"Apprise cannot use this {scheme}:// URL: an unknown service, or a part missing "
            "or malformed (see the Apprise documentation of that service).",
        )


def _hosts(url: str) -> list[str]:
    """The hosts in a target's URL a send may connect to: the URL's host (and a mailto's
    `smtp=`), when it looks like a host name or an address. Services reached at a fixed public
    address (discord://<id>/<token>, tgram://<bot token>/...) put ids where the host would be:
    a bare number is not taken for one (it would resolve as an IPv4 address)."""
    try:
        parts = urlsplit(url)
        found = [parts.hostname or ""]
    except ValueError:
        return []
    found += parse_qs(parts.query).get("smtp", [])
    return [
        host
        for host in found
        if host and not host.isdigit() and ("." in host or ":" in host or host == "localhost")
    ]


def check_public(url: str) -> None:
    """Refuse a URL whose host is, or resolves to, an address that is not public (netguard.py:
    for owners who may only reach public addresses). A host that does not resolve now is left
    to the check every send makes; the sentence never repeats the URL."""
    for host in _hosts(url):
        if netguard.refused_addresses(host):
            raise BadRequest(
                "The target's host is not a public address (loopback, private, link-local or "
                "similar). Only an administrator's targets may reach such addresses, unless "
                "the administrator sets notifications.allow_private_networks.",
                code="private_address",
                errors={"url": ["The host is not a public address."]},
            )


def _check_secret(secret: str | None) -> None:
    if secret is None or len(secret) < MIN_SECRET_LENGTH:
        raise _invalid(
            "secret",
            f"A webhook needs a secret of at least {MIN_SECRET_LENGTH} characters "
            "(e.g. `openssl rand -hex 32`): receivers check the signature with it.",
        )


def get_target(session: Session, target_id: int, caller: User) -> NotificationTarget:
    """The caller's target (an administrator's: anyone's); another user's is a 404 like a
    missing one."""
    target = session.get(NotificationTarget, target_id)
    if target is None or (target.owner_id != caller.id and not caller.is_admin):
        raise NotFound(f"No notification target with id {target_id}.")
    return target


def list_targets(session: Session, owner_id: int) -> list[NotificationTarget]:
    query = select(NotificationTarget).where(NotificationTarget.owner_id == owner_id)
    return list(session.scalars(query.order_by(NotificationTarget.name)))


def _refuse_duplicate(session: Session, owner_id: int, name: str, but: int | None = None) -> None:
    query = select(NotificationTarget.id).where(
        NotificationTarget.owner_id == owner_id, NotificationTarget.name == name
    )
    found = session.scalar(query)
    if found is not None and found != but:
        raise Conflict(
            f"A notification target named {name!r} exists already.", code="target_exists"
        )


def create_target(
    session: Session,
    owner_id: int,
    *,
    name: str,
    kind: str,
    url: str,
    secret: str | None = None,
    enabled: bool = True,
    allowed_schemes: tuple[str, ...] = (),
    public_only: bool = False,
    limit: int | None = None,
) -> NotificationTarget:
    """A new target of `owner_id`; at most `limit` per owner (409 `too_many_targets`)."""
    if kind not in TARGET_KINDS:
        raise _invalid("kind", f"A target is one of: {', '.join(TARGET_KINDS)}.")
    check_url(kind, url, allowed_schemes)
    if public_only:
        check_public(url)
    if kind == "webhook":
        _check_secret(secret)
    elif secret is not None:
        raise _invalid("secret", "Only a webhook has a secret; an Apprise URL carries its own.")
    _refuse_duplicate(session, owner_id, name)
    if limit is not None and len(list_targets(session, owner_id)) >= limit:
        raise Conflict(
            f"At most {limit} notification targets per user (notifications.max_targets): "
            "delete one first.",
            code="too_many_targets",
        )
    target = NotificationTarget(owner_id=owner_id, name=name, kind=kind, enabled=enabled)
    _store(target, Secrets(url=url, secret=secret))
    session.add(target)
    session.commit()
    return target


def update_target(
    session: Session,
    target: NotificationTarget,
    changes: dict[str, Any],
    allowed_schemes: tuple[str, ...] = (),
    public_only: bool = False,
) -> NotificationTarget:
    """Change the name, `enabled`, the URL or the secret; what is left out is kept."""
    if "name" in changes:
        _refuse_duplicate(session, target.owner_id, changes["name"], but=target.id)
        target.name = changes["name"]
    if "enabled" in changes:
        target.enabled = changes["enabled"]
    if "url" in changes or "secret" in changes:
        current = secrets_of(target)
        url = changes.get("url", current.url)
        secret = changes.get("secret", current.secret)
        if "url" in changes:
            check_url(target.kind, url, allowed_schemes)
            if public_only:
                check_public(url)
        if target.kind == "webhook":
            _check_secret(secret)
        elif "secret" in changes:
            raise _invalid("secret", "Only a webhook has a secret; an Apprise URL carries its own.")
        _store(target, Secrets(url=url, secret=secret))
    session.commit()
    return target


def delete_target(session: Session, target: NotificationTarget) -> None:
    session.delete(target)
    session.commit()
