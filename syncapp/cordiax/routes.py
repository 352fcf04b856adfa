"""/api/v1/cordiax: devices and their snapshot versions (pollers live in pollers_routes.py)."""

from __future__ import annotations

from flask import Response

from ..extensions import Blueprint, db
from ..failures import NotFound
from ..scrub import results as scrub_results
from ..security import admin_required
from ..web.streaming import Download, send_stored
from .devices import device_owner, visible_devices
from .models import CordiaxSnapshot
from .refusals import recent_refusals
from .schemas import DeviceInfo, OwnerQuery, RefusalInfo, SnapshotInfo
from .snapshots import EXTENSIONS
from .wiring import snapshot_store

bp = Blueprint(
    "cordiax",
    __name__,
    url_prefix="/api/v1/cordiax",
    description="Cordiax devices and snapshots (seed 002)",
)


def _find(device: str, version: str | None) -> CordiaxSnapshot:
    """A snapshot of one user's device: the caller's, or for an administrator the owner's that
    `?owner=` names. Another user's device answers as a missing one."""
    owner = device_owner(device)
    store = snapshot_store()
    found = store.latest(owner, device) if version is None else store.get(owner, device, version)
    if found is None:
        raise NotFound(
            f"No snapshot {version or 'yet'} for device {device!r}.", code="snapshot_not_found"
        )
    return found


# Every route takes `?owner=` (validated and documented here, read by tenancy.requested_owner).
with_owner = bp.arguments(OwnerQuery, location="query")


@bp.route("/devices")
@with_owner
@bp.response(200, DeviceInfo(many=True))
def list_devices(_query: dict):
    """Administrators see every user's devices, each with its owner's email (`?owner=` narrows
    the list to one user); users see their own."""
    return [
        {
            "device": d.name,
            "user_id": d.user_id,
            "owner": d.owner,
            "snapshots": len(d.versions),
            "latest": d.versions[0],
        }
        for d in visible_devices()
    ]


@bp.route("/devices/<string:device>/snapshots")
@with_owner
@bp.response(200, SnapshotInfo(many=True))
def list_snapshots(_query: dict, device: str):
    latest = _find(device, None)
    return snapshot_store().versions(latest.user_id, device)


def _download(snapshot: CordiaxSnapshot) -> Response:
    name = f"{snapshot.device}_{snapshot.version}.{EXTENSIONS[snapshot.kind]}"
    download = Download(name, "application/octet-stream", size=snapshot.size)
    integrity = scrub_results.integrity_of(db.session, "cordiax", snapshot.id)
    response = send_stored(snapshot_store().remote, snapshot.path, download)
    response.headers["X-Checksum-SHA256"] = snapshot.sha256
    if integrity == "corrupt":  # served, never silently: the last scrub found it damaged
        response.headers[scrub_results.HEADER] = "corrupt"
    return response


@bp.route("/devices/<string:device>/snapshots/<string:version>/download")
@with_owner
@bp.response(200, description="The snapshot's bytes")
def download_snapshot(_query: dict, device: str, version: str):
    return _download(_find(device, version))


@bp.route("/devices/<string:device>/latest/download")
@with_owner
@bp.response(200, description="The latest snapshot's bytes")
def download_latest(_query: dict, device: str):
    return _download(_find(device, None))


@bp.route("/devices/<string:device>/snapshots/<string:version>", methods=["DELETE"])
@with_owner
@bp.response(204)
@admin_required
def delete_snapshot(_query: dict, device: str, version: str):
    snapshot_store().delete(_find(device, version))


@bp.route("/refused")
@bp.response(200, RefusalInfo(many=True))
@admin_required
def list_refused():
    """Clients the server refused (a wrong or missing token, a device the token may not push
    as, a push too large or of an unknown format), newest first, at most 200: the Cordiax
    client does not show the server's `sync_error`, so this is where such mistakes appear."""
    return recent_refusals(db.session)
