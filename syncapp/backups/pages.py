"""The Backups page (`web.backups_page`)."""

from __future__ import annotations

from flask import render_template
from flask_login import current_user

from ..extensions import db
from ..scrub import results as scrub_results
from ..web.blueprint import bp
from .report import page_sections
from .store import Namespace
from .wiring import archive_store


@bp.route("/backups")
def backups_page():
    """The user's archives per profile; everyone's for administrators, with the owner named."""
    me = current_user.id
    owner = None if current_user.is_admin else me
    archives = archive_store().archives(None if owner is None else Namespace(me))
    findings = scrub_results.findings(db.session, "backup", owner_id=owner)
    return render_template("backups/index.html", profiles=page_sections(archives, me, findings))
