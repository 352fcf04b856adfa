"""/api/v1/alerts: the alerts a caller may see with their history, and the expectations (per
backup profile, Cordiax device and sync job) that override the `alerts` settings' defaults."""

from __future__ import annotations

from ..extensions import Blueprint, db
from ..failures import NotFound
from ..settings import settings
from ..tenancy import caller, find_user_by_ref, requested_owner
from ..timeutil import utcnow
from . import expectations, queries
from .models import Alert
from .schemas import (
    AlertDetail,
    AlertFilter,
    AlertList,
    ExpectationBody,
    ExpectationInfo,
    ExpectationList,
    OwnerQuery,
)

bp = Blueprint(
    "alerts",
    __name__,
    url_prefix="/api/v1/alerts",
    description="Watched conditions (missed backups, silent devices, failing jobs, store-wide "
    "problems) with their state and history",
)


def _owner_filter(ref: str | None) -> tuple[int | None, bool]:
    """(owner id, store-wide only) for `?owner=`; a user naming another answers 404."""
    if not ref:
        return None, False
    me = caller()
    if ref == "store" and me.is_admin:
        return None, True
    owner = find_user_by_ref(ref)
    if owner is None or (owner.id != me.id and not me.is_admin):
        raise NotFound(f"No alerts for owner {ref!r}.", code="owner_not_found")
    return owner.id, False


@bp.route("", methods=["GET"])
@bp.arguments(AlertFilter, location="query")
@bp.response(200, AlertList)
def list_alerts(filters: dict):
    """Your alerts, newest change first; administrators: every user's and the store-wide ones."""
    owner_id, store_wide = _owner_filter(filters.get("owner"))
    found = queries.list_alerts(
        db.session,
        caller(),
        state=filters.get("state"),
        kind=filters.get("kind"),
        owner_id=owner_id,
        store_wide=store_wide,
    )
    return {
        "alerts": found,
        "firing": sum(alert.state == "firing" for alert in found),
        "total": len(found),
    }


@bp.route("/<int:alert_id>", methods=["GET"])
@bp.response(200, AlertDetail)
def get_alert(alert_id: int):
    """One alert with its history (each change of state, newest first)."""
    alert = queries.find(db.session, caller(), alert_id)
    if alert is None:
        raise NotFound(f"Alert {alert_id} not found.", code="alert_not_found")
    view = {column.name: getattr(alert, column.name) for column in Alert.__table__.columns}
    view["history"] = queries.history(db.session, alert.id)
    return view


@bp.route("/expectations", methods=["GET"])
@bp.arguments(OwnerQuery, location="query")
@bp.response(200, ExpectationList)
def list_expectations(_query: dict):
    """The defaults, and what the owner (you, or `?owner=` for administrators) set per subject."""
    options = settings().alerts
    owner_id = requested_owner("expectations")
    rows = expectations.list_expectations(db.session, owner_id)
    return {
        "defaults": expectations.defaults(options),
        "expectations": [expectations.view(row, options) for row in rows],
    }


@bp.route("/expectations/<string:kind>/<string:subject>", methods=["PUT"])
@bp.arguments(OwnerQuery, location="query")
@bp.arguments(ExpectationBody)
@bp.response(200, ExpectationInfo)
def put_expectation(_query: dict, values: dict, kind: str, subject: str):
    """Set what to expect of a backup profile (`backups/<profile>`), a Cordiax device
    (`cordiax/<device>`) or a sync job (`syncs/<job id>`); replaces what was set before."""
    owner_id = requested_owner("expectations")
    row = expectations.put_expectation(
        db.session,
        owner_id,
        kind,
        subject,
        values,
        utcnow(),
        limit=settings().alerts.max_expectations,
    )
    return expectations.view(row, settings().alerts)


@bp.route("/expectations/<string:kind>/<string:subject>", methods=["DELETE"])
@bp.arguments(OwnerQuery, location="query")
@bp.response(204)
def delete_expectation(_query: dict, kind: str, subject: str):
    """Back to the defaults for this subject."""
    expectations.delete_expectation(db.session, requested_owner("expectations"), kind, subject)
