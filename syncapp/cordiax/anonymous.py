"""Cordiax clients without a token: allowed from `cordiax.anonymous_networks` when
`cordiax.allow_anonymous` is on, they push as the install's first administrator."""

from __future__ import annotations

from sqlalchemy import select

from ..auth.models import User
from ..extensions import db
from ..security import anonymous_network_allows


def anonymous_user() -> User | None:
    """Whom an unauthenticated connection from this request's address pushes as, if anyone."""
    if not anonymous_network_allows("cordiax"):
        return None
    return db.session.scalar(select(User).where(User.role == "admin").order_by(User.id))
