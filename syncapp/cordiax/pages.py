"""The Cordiax page (`web.cordiax_page`); its pollers' settings page is `web/settings.py`'s."""

from __future__ import annotations

from flask import render_template
from flask_login import current_user

from ..extensions import db
from ..scrub import results as scrub_results
from ..web.blueprint import bp
from .devices import visible_devices
from .refusals import recent_refusals


@bp.route("/cordiax")
def cordiax_page():
    """The user's Cordiax devices (every user's for admins) and a live log fed by /events."""
    refused = recent_refusals(db.session, 50) if current_user.is_admin else []
    owner = None if current_user.is_admin else current_user.id
    damaged = scrub_results.damaged(db.session, "cordiax", owner)
    return render_template(
        "cordiax/index.html", devices=visible_devices(), refused=refused, damaged=damaged
    )
