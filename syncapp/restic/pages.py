"""The restic page (`web.restic_page`): repositories, their numbers and the command to paste."""

from __future__ import annotations

from flask import render_template, request

from ..extensions import db
from ..security import owner_scope
from ..web.blueprint import bp
from .info import describe
from .wiring import restic_store


@bp.route("/restic")
def restic_page():
    """The user's repositories; everyone's for administrators, with the owner named."""
    store = restic_store()
    repos = store.repositories(owner_scope("restic repositories"))
    shown = describe(db.session, store, repos, request.host_url)
    return render_template("restic/index.html", repositories=shown)
