"""/api/v1/status, /api/v1/metrics (JSON) and /api/v1/logs: seed 000's service endpoints.

Users see the counts of their own jobs and the log records about their own things (a record's
`owner`, syncapp/logs.py); administrators everything, including the records of no owner (the
service's own) and the tracebacks.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import current_app

from ..extensions import Blueprint
from ..logs import BufferedRecord, LogBuffer, select_records
from ..syncs.jobs import get_job
from .access import caller_scope, require_enabled
from .schemas import LogList, LogQuery, ServiceStatus, SyncMetrics
from .service import job_metrics, service_status

bp = Blueprint("service", __name__, url_prefix="/api/v1", description="Service status (seed 000)")


@bp.route("/status", methods=["GET"])
@bp.response(200, ServiceStatus)
def get_status():
    return service_status(current_app, caller_scope())


@bp.route("/metrics", methods=["GET"])
@bp.response(200, SyncMetrics)
@bp.alt_response(404, description="monitoring.enable_metrics is false")
def get_metrics():
    require_enabled("enable_metrics", "metrics")
    return job_metrics(caller_scope())


@bp.route("/logs", methods=["GET"])
@bp.arguments(LogQuery, location="query")
@bp.response(200, LogList)
@bp.alt_response(404, description="`job` names no job of yours")
def get_logs(query: dict[str, Any]):
    buffer: LogBuffer | None = current_app.extensions.get("syncapp.log_buffer")
    records = buffer.snapshot() if buffer is not None else []
    owner_id = caller_scope()
    if owner_id is not None and query.get("job") is not None:
        get_job(query["job"], owner_id)  # another user's job answers as a missing one

    def visible(record: BufferedRecord) -> bool:
        return owner_id is None or record.owner == owner_id

    level = query.get("level")
    chosen = select_records(
        records,
        min_level=logging.getLevelName(level.upper()) if level else logging.NOTSET,
        job=query.get("job"),
        since=query["since"].timestamp() if query.get("since") else None,
        visible=visible,
        limit=query["limit"],
    )
    if owner_id is not None:  # a traceback shows the server's code: administrators only
        chosen = [{k: v for k, v in entry.items() if k != "exception"} for entry in chosen]
    capacity = buffer.capacity if buffer is not None else 0
    return {"records": chosen, "count": len(chosen), "buffer_size": capacity}
