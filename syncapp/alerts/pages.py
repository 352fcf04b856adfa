"""The Alerts page (`web.alerts_page`) and the health banner every page shows (base.html): red
while anything the viewer may see fires, naming the oldest with a link to it."""

from __future__ import annotations

import logging
from typing import Any

from flask import render_template, request
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from ..auth.models import User
from ..extensions import db
from ..failures import NotFound
from ..web.blueprint import bp
from ..web.listing import Listing
from . import queries
from .models import Alert
from .wiring import check_leader

log = logging.getLogger(__name__)


def _firing_alerts() -> list[Alert]:
    """What fires for the signed-in viewer (none for anonymous pages, or when the database
    cannot say: the banner never breaks a page)."""
    if not current_user.is_authenticated:
        return []
    try:
        return queries.firing(db.session, current_user)
    except SQLAlchemyError:
        db.session.rollback()
        log.warning("alerts: cannot read the firing alerts for the banner", exc_info=True)
        return []


@bp.before_app_request
def look_for_a_leader() -> None:
    """A page of a signed-in user checks, at most once per `alerts.interval` per process, that
    some process leads (wiring.check_leader); before the view, so no work of the view is in the
    session when the check ends its transaction."""
    page = request.method == "GET" and request.blueprint in ("web", "settings")
    if page and current_user.is_authenticated:
        check_leader()


@bp.app_context_processor
def health_banner() -> dict[str, Any]:
    # A function, so that only pages that render the banner (base.html) run the query.
    return {"firing_alerts": _firing_alerts}


def _owners(alerts: list[Alert]) -> dict[int, str]:
    ids = {alert.owner_id for alert in alerts if alert.owner_id is not None}
    if not ids:
        return {}
    return dict(db.session.execute(select(User.id, User.email).where(User.id.in_(ids))).all())


@bp.route("/alerts")
def alerts_page():
    """Firing and resolved alerts (every user's and the store-wide ones for administrators)."""
    found = queries.list_alerts(db.session, current_user)
    owners = _owners(found)
    # the two tables sort and page apart: ?firing-sort=..., ?resolved-page=...
    keys = {
        "alert": lambda a: a.title.lower(),
        "owner": lambda a: owners.get(a.owner_id, "") if a.owner_id else "",
        "fired": lambda a: a.first_seen_at,
        "resolved": lambda a: a.resolved_at,
    }
    firing = Listing.read(keys, "fired", descending=True, prefix="firing-")
    resolved = Listing.read(keys, "resolved", descending=True, prefix="resolved-")
    # `firing_rows`: base.html's banner sets `firing` at its top level, which would win
    return render_template(
        "alerts/index.html",
        firing_rows=firing.arrange([a for a in found if a.state == "firing"], keys),
        resolved_rows=resolved.arrange([a for a in found if a.state == "resolved"], keys),
        owners=owners,
    )


@bp.route("/alerts/<int:alert_id>")
def alert_page(alert_id: int):
    """One alert and its history."""
    alert = queries.find(db.session, current_user, alert_id)
    if alert is None:
        raise NotFound(f"Alert {alert_id} not found.", code="alert_not_found")
    return render_template(
        "alerts/detail.html",
        alert=alert,
        history=queries.history(db.session, alert.id),
        owners=_owners([alert]),
    )
