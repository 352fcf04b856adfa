"""Delivering alert transitions to targets: at least once, once per (transition, target).

The alerts evaluator writes one `AlertTransition` per state change (alerts/models.py): that table
is the outbox. `deliver_due` does two things, each safe to run twice and in several processes:

1. **Fan out**: every recent transition gets one `NotificationDelivery` per matching enabled
   target (its owner's targets; for a store-wide alert, `owner_id` None, every active
   administrator's), inserted with the pair's unique key so a second run, or another process,
   adds nothing. A target only gets the transitions made after it was created.
2. **Send**: each due delivery is claimed (background/claims.py: `pending` → `sending`, its
   `next_attempt_at` the lease), sent, then recorded as `delivered`, or given back `pending`
   with `next_attempt_at` pushed out by an exponential backoff (`claims.backoff`, capped), or
   recorded `failed` once `max_attempts` ran out. A sender that died mid-send leaves a claim
   whose lease runs out; `recover` gives it back and it is sent again (at least once: a
   receiver dedups on `X-Syncapp-Delivery` / `delivery_id`).

Everything takes `now`, so tests drive the clock; no sleeps.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ..alerts.models import AlertTransition
from ..auth.models import User
from ..background.claims import Claims, backoff
from ..timeutil import isoformat
from . import netguard
from .models import NotificationDelivery, NotificationTarget
from .senders import Message, SendFailed, send_apprise, send_webhook
from .targets import secrets_of

log = logging.getLogger(__name__)

#: how much of an error is kept on the delivery row
ERROR_LENGTH = 1000


@dataclass(frozen=True)
class DeliveryPolicy:
    max_attempts: int = 8
    retry_delay: float = 30.0
    max_retry_delay: float = 3600.0
    timeout: float = 10.0
    lease: float = 120.0
    max_age: float = 7 * 86400.0
    #: the server's public URL, to make an alert's link absolute ("" keeps it relative)
    base_url: str = ""
    #: targets of users who are not administrators may reach private addresses (netguard.py)
    allow_private_networks: bool = False

    @classmethod
    def from_settings(cls, options: Any, base_url: str | None = None) -> DeliveryPolicy:
        return cls(
            max_attempts=max(1, options.max_attempts),
            retry_delay=float(options.retry_delay),
            max_retry_delay=float(options.max_retry_delay),
            timeout=float(options.timeout),
            lease=float(options.lease),
            max_age=float(options.max_age),
            base_url=(base_url or "").rstrip("/"),
            allow_private_networks=bool(options.allow_private_networks),
        )


def delivery_claims(lease: timedelta) -> Claims:
    """A delivery is claimed by moving it from `pending` to `sending`; `next_attempt_at`, a
    pending row's earliest next attempt, is a sending row's lease."""
    return Claims(
        NotificationDelivery,
        lease=lease,
        lease_until=NotificationDelivery.next_attempt_at,
        held=NotificationDelivery.status == "sending",
        free=lambda now: (
            (NotificationDelivery.status == "pending")
            & or_(
                NotificationDelivery.next_attempt_at.is_(None),
                NotificationDelivery.next_attempt_at <= now,
            )
        ),
        taken={"status": "sending"},
        released={"status": "pending"},
    )


# --- the message ------------------------------------------------------------------------------


def _link(link: str, base_url: str) -> str:
    if link.startswith("/") and base_url:
        return base_url + link
    return link


def alert_message(transition: AlertTransition, delivery_id: int, base_url: str = "") -> Message:
    firing = transition.state == "firing"
    link = _link(transition.link, base_url)
    state = "FIRING" if firing else "RESOLVED"
    lines = [transition.detail] if transition.detail else []
    if link:
        lines.append(link)
    lines.append(f"{state} since {isoformat(transition.at)}")
    return Message(
        event=f"alert.{transition.state}",
        title=f"[syncapp] {state}: {transition.title}",
        body="\n".join(lines),
        failure=firing,
        payload={
            "event": f"alert.{transition.state}",
            "delivery_id": delivery_id,
            "alert": {
                "id": transition.alert_id,
                "transition_id": transition.id,
                "state": transition.state,
                "title": transition.title,
                "detail": transition.detail,
                "link": link,
                "at": isoformat(transition.at),
            },
        },
    )


def probe_message(target: NotificationTarget, now: datetime) -> Message:
    return Message(
        event="test",
        title="[syncapp] Test notification",
        body=f"This is a test from syncapp to the target “{target.name}”. It works.",
        payload={"event": "test", "delivery_id": None, "target": target.name, "at": isoformat(now)},
    )


Sender = Callable[[NotificationTarget, Message, str, float, datetime, bool], str]

#: why a send was refused by netguard (the owner and the administrator read it; SSRF)
PRIVATE_REFUSED = (
    "refused: the target's host is not a public address. Only an administrator's targets may "
    "reach loopback, private or link-local addresses, unless the administrator sets "
    "notifications.allow_private_networks."
)


def private_allowed(session: Session, target: NotificationTarget, policy: DeliveryPolicy) -> bool:
    """Whether `target` may reach private addresses: its owner is an administrator, or the
    setting lets every user's targets (netguard.py)."""
    if policy.allow_private_networks:
        return True
    owner = session.get(User, target.owner_id)
    return owner is not None and owner.is_admin


def send(
    target: NotificationTarget,
    message: Message,
    delivery: str,
    timeout: float,
    now: datetime,
    private_ok: bool = False,
) -> str:
    """Send through the target's kind, to public addresses only unless `private_ok`; a sentence
    on success, SendFailed otherwise."""
    try:
        secrets = secrets_of(target)
    except ValueError:
        raise SendFailed(
            "The target's URL cannot be decrypted (was SECRET_KEY changed?): enter it again."
        ) from None
    with netguard.public_only(not private_ok):
        try:
            if target.kind == "webhook":
                return send_webhook(
                    secrets.url,
                    secrets.secret or "",
                    message,
                    delivery=delivery,
                    timeout=timeout,
                    now=now.timestamp(),
                )
            return send_apprise(secrets.url, message, timeout=timeout)
        except SendFailed:
            if netguard.refusals():
                raise SendFailed(PRIVATE_REFUSED) from None
            raise


def send_test(
    target: NotificationTarget, policy: DeliveryPolicy, now: datetime, private_ok: bool
) -> tuple[bool, str]:
    """ "Send a test": (success, what happened), at once, whether or not the target is enabled."""
    try:
        said = send(
            target, probe_message(target, now), f"test-{target.id}", policy.timeout, now, private_ok
        )
    except SendFailed as exc:
        return False, str(exc)
    return True, said


# --- fan out ----------------------------------------------------------------------------------


def _insert_ignoring_duplicates(session: Session, rows: list[dict[str, Any]]) -> int:
    """Insert deliveries; a pair that exists already (another run, another process) is skipped
    by the database itself (ON CONFLICT DO NOTHING on the unique pair)."""
    if not rows:
        return 0
    dialect = session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    statement = module.insert(NotificationDelivery).values(rows)
    statement = statement.on_conflict_do_nothing(index_elements=["transition_id", "target_id"])
    return session.execute(statement).rowcount or 0


def fan_out(session: Session, now: datetime, policy: DeliveryPolicy) -> int:
    """One pending delivery per recent transition and matching target; the number added."""
    since = now - timedelta(seconds=policy.max_age)
    admins = select(User.id).where(User.role == "admin", User.active.is_(True))
    matches = or_(
        NotificationTarget.owner_id == AlertTransition.owner_id,
        and_(AlertTransition.owner_id.is_(None), NotificationTarget.owner_id.in_(admins)),
    )
    existing = select(NotificationDelivery.id).where(
        NotificationDelivery.transition_id == AlertTransition.id,
        NotificationDelivery.target_id == NotificationTarget.id,
    )
    pairs = session.execute(
        select(AlertTransition.id, NotificationTarget.id, NotificationTarget.owner_id)
        .join(NotificationTarget, matches)
        .where(
            AlertTransition.at >= since,
            AlertTransition.at >= NotificationTarget.created_at,
            NotificationTarget.enabled.is_(True),
            ~existing.exists(),
        )
        .order_by(AlertTransition.id, NotificationTarget.id)
    ).all()
    rows = [
        {
            "transition_id": transition_id,
            "target_id": target_id,
            "owner_id": owner_id,
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for transition_id, target_id, owner_id in pairs
    ]
    added = _insert_ignoring_duplicates(session, rows)
    session.commit()
    return added


# --- send -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    delivery_id: int
    status: str  # delivered, pending (retried later), failed, skipped (claimed elsewhere)
    error: str | None = None


def _due(session: Session, now: datetime, limit: int) -> list[int]:
    query = (
        select(NotificationDelivery.id)
        .where(
            NotificationDelivery.status == "pending",
            or_(
                NotificationDelivery.next_attempt_at.is_(None),
                NotificationDelivery.next_attempt_at <= now,
            ),
        )
        .order_by(NotificationDelivery.next_attempt_at, NotificationDelivery.id)
        .limit(limit)
    )
    return list(session.scalars(query))


def deliver_one(
    session: Session,
    delivery_id: int,
    now: datetime,
    policy: DeliveryPolicy,
    sender: Sender = send,
) -> Outcome:
    claims = delivery_claims(timedelta(seconds=policy.lease))
    if not claims.claim(session, delivery_id, now=now):
        return Outcome(delivery_id, "skipped")
    # populate_existing: the claim's UPDATE bypassed the session's copies of the rows
    delivery = session.get(NotificationDelivery, delivery_id, populate_existing=True)
    target = session.get(NotificationTarget, delivery.target_id, populate_existing=True)
    transition = session.get(AlertTransition, delivery.transition_id)
    private_ok = target is not None and private_allowed(session, target, policy)
    attempts = delivery.attempts + 1
    session.commit()  # nothing is held open while the network is used
    error: str | None = None
    try:
        if target is None or transition is None:  # deleted meanwhile (cascades follow)
            raise SendFailed("the target or the alert was deleted")
        message = alert_message(transition, delivery_id, policy.base_url)
        sender(target, message, str(delivery_id), policy.timeout, now, private_ok)
    except SendFailed as exc:
        error = str(exc)
    except Exception as exc:  # a bug or a library's surprise must not stop the other deliveries
        log.exception("notification delivery %s failed unexpectedly", delivery_id)
        error = f"unexpected error ({type(exc).__name__})"
    if error is None:
        claims.update_held(
            session,
            NotificationDelivery.id == delivery_id,
            status="delivered",
            attempts=attempts,
            delivered_at=now,
            next_attempt_at=None,
            last_error=None,
        )
        session.commit()
        return Outcome(delivery_id, "delivered")
    error = error[:ERROR_LENGTH]
    if attempts >= policy.max_attempts:
        status, next_at = "failed", None
        log.warning(
            "notification delivery %s to target %s gave up after %d attempts: %s",
            delivery_id,
            delivery.target_id,
            attempts,
            error,
        )
    else:
        status = "pending"
        wait = backoff(attempts, policy.retry_delay, policy.max_retry_delay)
        next_at = now + timedelta(seconds=wait)
        log.info(
            "notification delivery %s to target %s failed (attempt %d), next in %.0f s: %s",
            delivery_id,
            delivery.target_id,
            attempts,
            wait,
            error,
        )
    claims.update_held(
        session,
        NotificationDelivery.id == delivery_id,
        status=status,
        attempts=attempts,
        next_attempt_at=next_at,
        last_error=error,
    )
    session.commit()
    return Outcome(delivery_id, status, error)


def deliver_due(
    session: Session,
    now: datetime,
    policy: DeliveryPolicy,
    *,
    sender: Sender = send,
    limit: int = 200,
) -> list[Outcome]:
    """Recover abandoned claims, fan out new transitions, send what is due; the outcomes."""
    claims = delivery_claims(timedelta(seconds=policy.lease))
    recovered = claims.recover(session, now=now, next_attempt_at=now)
    if recovered:
        log.warning("notification deliveries %s: their sender stopped; sending again", recovered)
    session.commit()
    fan_out(session, now, policy)
    return [
        deliver_one(session, row_id, now, policy, sender) for row_id in _due(session, now, limit)
    ]
