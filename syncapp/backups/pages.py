"""The Backups page (`web.backups_page`)."""

from __future__ import annotations

from flask import render_template
from flask_login import current_user

from ..web.blueprint import bp
from .report import page_sections
from .store import Namespace
from .wiring import archive_store


@bp.route("/backups")
def backups_page():
    """The user's archives per profile; everyone's for administrators, with the owner named."""
    me = current_user.id
    archives = archive_store().archives(None if current_user.is_admin else Namespace(me))
    return render_template("backups/index.html", profiles=page_sections(archives, me))
