"""The Cordiax page (`web.cordiax_page`); its pollers' settings page is `web/settings.py`'s."""

from __future__ import annotations

from flask import render_template
from flask_login import current_user

from ..extensions import db
from ..web.blueprint import bp
from .devices import visible_devices
from .refusals import recent_refusals


@bp.route("/cordiax")
def cordiax_page():
    """The user's Cordiax devices (every user's for admins) and a live log fed by /events."""
    refused = recent_refusals(db.session, 50) if current_user.is_admin else []
    return render_template("cordiax/index.html", devices=visible_devices(), refused=refused)
