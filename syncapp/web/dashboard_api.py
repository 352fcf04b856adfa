"""GET /api/v1/dashboard: what the dashboard shows, for its live refresh and for scripts."""

from __future__ import annotations

from flask_login import current_user

from ..extensions import Blueprint
from ..security import caller_id
from .dashboard import summary
from .dashboard_schemas import Dashboard

bp = Blueprint("dashboard", __name__, url_prefix="/api/v1", description="Dashboard summary")


@bp.route("/dashboard", methods=["GET"])
@bp.response(200, Dashboard)
def get_dashboard():
    """Backups per profile, devices, documents, sync jobs, cloud replication, storage, recent
    events and chart series: the caller's own (everyone's for an administrator)."""
    caller_id("dashboards")  # a dashboard is somebody's
    return summary(current_user)
