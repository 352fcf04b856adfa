"""GET /metrics: the Prometheus text exposition (scrape with a bearer token).

An administrator's token sees every job; a user's token only the samples of their own jobs, and
of the alerts' gauges (alert_gauges.py) only their own alerts, profiles and devices.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator

from flask import Blueprint, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.metrics_core import Metric

from ..extensions import db
from ..metrics import REGISTRY
from . import alert_gauges  # noqa: F401  (registers the alerts' gauges on REGISTRY)
from .access import caller_scope, require_enabled
from .collector import OWNER_SCOPE
from .service import scoped_job_ids

bp = Blueprint("prometheus", __name__)


class OwnJobsView:
    """REGISTRY as one user may see it: samples labelled with another user's job are left out."""

    def __init__(self, job_ids: set[str]) -> None:
        self.job_ids = job_ids

    def collect(self) -> Iterator[Metric]:
        for family in REGISTRY.collect():
            kept = copy.copy(family)
            kept.samples = [
                s for s in family.samples if s.labels.get("job", None) in (None, *self.job_ids)
            ]
            yield kept


@bp.route("/metrics")
def prometheus_metrics() -> Response:
    require_enabled("enable_metrics", "metrics")
    owner_id = caller_scope()
    source = REGISTRY
    if owner_id is not None:
        source = OwnJobsView({str(i) for i in db.session.scalars(scoped_job_ids(owner_id))})
    token = OWNER_SCOPE.set(owner_id)
    try:
        body = generate_latest(source)
    finally:
        OWNER_SCOPE.reset(token)
    return Response(body, mimetype=None, content_type=CONTENT_TYPE_LATEST)
