"""Building the notifications' services from the app: the one module of the feature that reads
`current_app` (through `settings()`)."""

from __future__ import annotations

from datetime import datetime

from ..auth.models import User
from ..extensions import db
from ..settings import settings
from ..timeutil import utcnow
from .models import NotificationTarget
from .outbox import DeliveryPolicy, Outcome, private_allowed
from .outbox import deliver_due as _deliver_due
from .outbox import send_test as _send_test


def delivery_policy() -> DeliveryPolicy:
    configured = settings()
    return DeliveryPolicy.from_settings(configured.notifications, configured.server.public_url)


def test_rate_limit() -> str:
    """The limit on each user's "send a test" (`ratelimit.notification_tests`)."""
    return settings().ratelimit.notification_tests


def public_only(owner_id: int) -> bool:
    """Whether `owner_id`'s targets may reach public addresses only (netguard.py)."""
    if settings().notifications.allow_private_networks:
        return False
    owner = db.session.get(User, owner_id)
    return owner is None or not owner.is_admin


def max_targets() -> int:
    return settings().notifications.max_targets


def allowed_schemes() -> tuple[str, ...]:
    return tuple(scheme.lower() for scheme in settings().notifications.allowed_schemes)


def deliver_due(now: datetime | None = None) -> list[Outcome]:
    """Send what the alert transitions owe the targets (the background job; the alerts
    evaluator may call it right after writing transitions, for an immediate delivery)."""
    return _deliver_due(db.session, now or utcnow(), delivery_policy())


def send_test(target: NotificationTarget) -> tuple[bool, str]:
    policy = delivery_policy()
    private_ok = private_allowed(db.session, target, policy)
    db.session.commit()  # no transaction is held while the target answers
    return _send_test(target, policy, utcnow(), private_ok)
