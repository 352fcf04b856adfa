"""The Integrity page (`web.scrub_page`): the scrub's progress and findings, for administrators."""

from __future__ import annotations

from flask import render_template
from flask_login import current_user

from ..extensions import db
from ..failures import Forbidden
from ..web.blueprint import bp
from . import results
from .wiring import scrubber


@bp.route("/scrub")
def scrub_page():
    if not current_user.is_admin:
        raise Forbidden("Only administrators see the integrity scrub.", code="admin_required")
    found, total = results.listing(db.session, limit=200)
    return render_template(
        "scrub/index.html", status=scrubber().status(), findings=found, total=total
    )
