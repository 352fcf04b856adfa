"""The Cordiax page (`web.cordiax_page`); its pollers' settings page is `web/settings.py`'s."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import render_template
from flask_login import current_user

from ..extensions import db
from ..scrub import results as scrub_results
from ..settings import settings
from ..web.blueprint import bp
from .devices import Device, visible_devices
from .presence import Presence, presences
from .refusals import recent_refusals

#: lines of the live log filled in from what the server already knows
LOG_ON_LOAD = 30


def _log_on_load(
    devices: list[Device], present: dict[tuple[int, str], Presence], me: int
) -> list[dict[str, Any]]:
    """The live log as the page opens: the caller's own devices' recent snapshots, connections
    and departures (the events /events sends are the caller's own, so the two lists agree)."""
    lines: list[tuple[datetime, dict[str, Any]]] = []
    for device in devices:
        if device.user_id != me:
            continue
        for version in device.versions[:LOG_ON_LOAD]:
            lines.append((version.received_at, {"event": "cordiax_snapshot", "device": device.name,
                                                "version": version}))  # fmt: skip
    for (user_id, name), seen in present.items():
        if user_id != me:
            continue
        if seen.connected_at is not None:
            lines.append((seen.connected_at, {"event": "cordiax_connected", "device": name}))
        if not seen.online:
            lines.append((seen.last_seen_at, {"event": "cordiax_disconnected", "device": name}))
    lines.sort(key=lambda line: line[0], reverse=True)
    return [{"time": moment, **line} for moment, line in lines[:LOG_ON_LOAD]]


@bp.route("/cordiax")
def cordiax_page():
    """The user's Cordiax devices (every user's for admins), whether each is connected, and a
    live log fed by /events, filled from the server's history on load."""
    refused = recent_refusals(db.session, 50) if current_user.is_admin else []
    owner = None if current_user.is_admin else current_user.id
    damaged = scrub_results.damaged(db.session, "cordiax", owner)
    devices = visible_devices()
    present = presences(db.session, owner, settings().cordiax.sync_request_interval)
    return render_template(
        "cordiax/index.html",
        devices=devices,
        refused=refused,
        damaged=damaged,
        presence=present,
        log=_log_on_load(devices, present, current_user.id),
    )
