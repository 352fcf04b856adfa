"""The Cordiax page (`web.cordiax_page`); its pollers' settings page is `web/settings.py`'s.

Its three long lists are sorted and paged on the server (web/listing.py): the devices (a table,
and below it one section per device of that page, in the same order), each device's snapshots
(`?<user>.<device>-page=`), and the log as the page opens (`?log-page=`). A device that
connected but never pushed is listed too, as "no snapshot yet" (issue 22)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import render_template
from flask_login import current_user
from sqlalchemy import func, select

from ..extensions import db
from ..scrub import results as scrub_results
from ..settings import settings
from ..web.blueprint import bp
from ..web.listing import Listing, Page
from .devices import owner_emails, visible_scope
from .models import CordiaxSnapshot
from .presence import Presence, presences
from .refusals import recent_refusals

DEVICES_PER_PAGE = 20
VERSIONS_PER_PAGE = 10
LOG_PER_PAGE = 30


@dataclass(frozen=True)
class DeviceRow:
    """A device as the page lists it: its snapshots counted, its presence (None: never
    connected over Socket.IO), one page of its snapshots and its newest one."""

    name: str
    user_id: int
    owner: str | None  # the owner's email, for administrators
    count: int
    latest_at: datetime | None
    seen: Presence | None
    versions: Page[CordiaxSnapshot] | None = None
    latest: CordiaxSnapshot | None = None

    @property
    def key(self) -> str:
        """Tells the device's snapshot table apart in the URL (device names are per user)."""
        return f"{self.user_id}.{self.name}-"


#: the devices table's columns (?devices-sort=) and how each sorts
DEVICE_SORTS = {
    "device": lambda d: (d.name, d.user_id),
    "latest": lambda d: d.latest_at,
    "versions": lambda d: d.count,
    "seen": lambda d: d.seen.last_seen_at if d.seen else None,
}
#: a device's snapshot table's columns (?<user>.<device>-sort=)
VERSION_SORTS = {
    "received": CordiaxSnapshot.received_at,
    "version": CordiaxSnapshot.version,
    "size": CordiaxSnapshot.size,
}


def _snapshot_filter(owner: int | None, names: set[str] | None) -> list[Any]:
    where: list[Any] = []
    if owner is not None:
        where.append(CordiaxSnapshot.user_id == owner)
    if names is not None:
        where.append(CordiaxSnapshot.device.in_(names))
    return where


def _devices(
    owner: int | None, names: set[str] | None, present: dict[tuple[int, str], Presence]
) -> list[DeviceRow]:
    """Every device the caller sees: those with snapshots (counted in SQL), and those only
    connected so far."""
    counted = db.session.execute(
        select(
            CordiaxSnapshot.user_id,
            CordiaxSnapshot.device,
            func.count(),
            func.max(CordiaxSnapshot.received_at),
        )
        .where(*_snapshot_filter(owner, names))
        .group_by(CordiaxSnapshot.user_id, CordiaxSnapshot.device)
    ).all()
    found = {(user_id, name): (count, latest) for user_id, name, count, latest in counted}
    for key in present:
        if names is None or key[1] in names:
            found.setdefault(key, (0, None))
    emails = owner_emails({user_id for user_id, _ in found})
    return [
        DeviceRow(name, user_id, emails.get(user_id), count, latest, present.get((user_id, name)))
        for (user_id, name), (count, latest) in found.items()
    ]


def _with_versions(device: DeviceRow) -> DeviceRow:
    """The device with one page of its snapshots (as its table's listing asks) and its newest."""
    listing = Listing.read(
        VERSION_SORTS,
        "received",
        descending=True,
        per_page=VERSIONS_PER_PAGE,
        prefix=device.key,
    ).clamped(device.count)
    mine = (CordiaxSnapshot.user_id == device.user_id, CordiaxSnapshot.device == device.name)
    versions = db.session.scalars(
        select(CordiaxSnapshot)
        .where(*mine)
        .order_by(*listing.order_by(VERSION_SORTS, CordiaxSnapshot.id.desc()))
        .offset(listing.offset)
        .limit(listing.per_page)
    ).all()
    latest = db.session.scalars(
        select(CordiaxSnapshot).where(*mine).order_by(CordiaxSnapshot.received_at.desc()).limit(1)
    ).first()
    return DeviceRow(
        device.name, device.user_id, device.owner, device.count, device.latest_at, device.seen,
        listing.of(versions, device.count), latest,
    )  # fmt: skip


def _log(present: dict[tuple[int, str], Presence], me: int) -> Page[dict[str, Any]]:
    """The log as the page opens, one page of it: the caller's own devices' snapshots,
    connections and departures, newest first (the events /events sends are the caller's own,
    so the two lists agree). Snapshots are cut in SQL: only as many as the page needs."""
    listing = Listing.read(["time"], "time", descending=True, per_page=LOG_PER_PAGE, prefix="log-")
    lines: list[dict[str, Any]] = []
    for (user_id, name), seen in present.items():
        if user_id != me:
            continue
        if seen.connected_at is not None:
            lines.append({"time": seen.connected_at, "event": "cordiax_connected", "device": name})
        if not seen.online:
            lines.append(
                {"time": seen.last_seen_at, "event": "cordiax_disconnected", "device": name}
            )
    mine = CordiaxSnapshot.user_id == me
    total = len(lines) + (
        db.session.scalar(select(func.count()).select_from(CordiaxSnapshot).where(mine)) or 0
    )
    listing = listing.clamped(total)
    received = CordiaxSnapshot.received_at
    # the page's lines are among the first offset + per_page of either list
    for version in db.session.scalars(
        select(CordiaxSnapshot)
        .where(mine)
        .order_by(received.desc() if listing.descending else received.asc())
        .limit(listing.offset + listing.per_page)
    ):
        lines.append({"time": version.received_at, "event": "cordiax_snapshot",
                      "device": version.device, "version": version})  # fmt: skip
    lines.sort(key=lambda line: line["time"], reverse=listing.descending)
    return listing.of(lines[listing.offset : listing.offset + listing.per_page], total)


@bp.route("/cordiax")
def cordiax_page():
    """The user's Cordiax devices (every user's for admins), whether each is connected, and a
    log fed by /events, filled from the server's history on load; every list sorted and paged
    on the server."""
    refused = recent_refusals(db.session, 50) if current_user.is_admin else []
    owner, names = visible_scope()
    damaged = scrub_results.damaged(db.session, "cordiax", owner)
    present = presences(db.session, owner, settings().cordiax.sync_request_interval)
    listing = Listing.read(DEVICE_SORTS, "device", per_page=DEVICES_PER_PAGE, prefix="devices-")
    devices = listing.arrange(_devices(owner, names, present), DEVICE_SORTS)
    devices.items = [_with_versions(device) for device in devices.items]
    return render_template(
        "cordiax/index.html",
        devices=devices,
        refused=refused,
        damaged=damaged,
        log=_log(present, current_user.id),
        version_sorts=list(VERSION_SORTS),
    )
