"""What the monitoring endpoints (health, status, logs, metrics, Prometheus) share before they
answer: whether the endpoint is turned on, and whose jobs the caller may see."""

from __future__ import annotations

from flask_login import current_user

from ..failures import NotFound, Unauthorized
from ..settings import settings


def caller_scope() -> int | None:
    """Whose jobs the caller may see: their own, or everyone's (None) for an administrator."""
    if not current_user.is_authenticated:
        raise Unauthorized("Authentication required: send 'Authorization: Bearer <token>'.")
    return None if current_user.is_admin else current_user.id


def require_enabled(option: str, what: str) -> None:
    if not getattr(settings().monitoring, option):
        raise NotFound(
            f"The {what} endpoint is turned off (monitoring.{option} is false).",
            code=f"{what}_disabled",
        )
