"""The Integrity page (`web.scrub_page`): the scrub's progress and findings, for administrators."""

from __future__ import annotations

from flask import render_template
from flask_login import current_user

from ..extensions import db
from ..failures import Forbidden
from ..web.blueprint import bp
from ..web.listing import Listing
from . import results
from .models import ScrubResult
from .wiring import scrubber

#: the columns the findings table sorts by (?sort=)
SORTS = {
    "kind": ScrubResult.kind,
    "object": ScrubResult.object_id,
    "owner": ScrubResult.owner_id,
    "integrity": ScrubResult.integrity,
    "verified": ScrubResult.last_verified_at,
}


@bp.route("/scrub")
def scrub_page():
    if not current_user.is_admin:
        raise Forbidden("Only administrators see the integrity scrub.", code="admin_required")
    listing = Listing.read(SORTS, "verified", descending=True)
    found, total = results.listing(
        db.session,
        limit=listing.per_page,
        offset=listing.offset,
        order=listing.order_by(SORTS, ScrubResult.id.desc()),
    )
    return render_template(
        "scrub/index.html",
        status=scrubber().status(),
        findings=listing.of(found, total),
        total=total,
    )
