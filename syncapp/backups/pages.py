"""The Backups page (`web.backups_page`)."""

from __future__ import annotations

from flask import render_template, request
from flask_login import current_user

from ..extensions import db
from ..failures import DomainError
from ..scrub import results as scrub_results
from ..settings import settings
from ..web.blueprint import bp
from .report import page_sections
from .restore import build_plan, describe, parse_at
from .store import Namespace, check_profile
from .wiring import archive_store


@bp.route("/backups")
def backups_page():
    """The user's archives per profile; everyone's for administrators, with the owner named.
    `?restore=<profile>` (`<owner id>/<profile>` for another user's, administrators) and `?at=`
    show that profile's restore plan and the restore.sh command, as the API answers them."""
    me = current_user.id
    owner = None if current_user.is_admin else me
    archives = archive_store().archives(None if owner is None else Namespace(me))
    findings = scrub_results.findings(db.session, "backup", owner_id=owner)
    sections = page_sections(archives, me, findings)
    restore = _restore_section(archives, me) if request.args.get("restore") else None
    # the API's delete is for administrators, and never on an append-only store
    can_delete = current_user.is_admin and not settings().backups.append_only
    return render_template(
        "backups/index.html", profiles=sections, restore=restore, can_delete=can_delete
    )


def _restore_section(archives: list, me: int) -> dict:
    choice = request.args.get("restore", "")
    owner_ref, _, profile = choice.rpartition("/")
    shown = {"choice": choice, "at": request.args.get("at", "")}
    try:
        owner = int(owner_ref) if owner_ref else me
        profile = check_profile(profile)
        at = parse_at(request.args.get("at"))
    except (ValueError, DomainError) as exc:
        return {**shown, "error": str(exc) if isinstance(exc, DomainError) else "Unknown owner."}
    # `archives` holds only what this viewer may see: another user's profile is absent for them
    plan = build_plan((a for a in archives if a.owner_id == owner), profile, at)
    if plan is None:
        return {**shown, "error": f"No FULL backup of profile {profile!r} at or before that time."}
    return {**shown, "plan": describe(plan, request.host_url, str(owner) if owner != me else None)}
