"""/api/v1/cordiax: devices and their snapshot versions (pollers live in pollers_routes.py)."""

from __future__ import annotations

from flask import Response

from ..extensions import Blueprint, db
from ..failures import Conflict, NotFound
from ..scrub import results as scrub_results
from ..security import admin_required
from ..web.streaming import Download, send_stored
from .devices import device_owner, visible_devices
from .models import CordiaxSnapshot
from .refusals import recent_refusals
from .schemas import DeviceInfo, DownloadQuery, OwnerQuery, RefusalInfo, SnapshotInfo
from .snapshots import DATABASE_NAME, EXTENSIONS, SnapshotRefused, SnapshotStore
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


def _download(snapshot: CordiaxSnapshot, form: str = "stored") -> Response:
    """`form`: "stored" (the bytes as pushed), "db" (the original `cordiax.db`: the pushed
    database, or the one inside a pushed ZIP), "zip" (a pushed ZIP, or a database in one)."""
    store = snapshot_store()
    response = _download_form(store, snapshot, form)
    # served, never silently: the last scrub found the stored bytes damaged
    if scrub_results.integrity_of(db.session, "cordiax", snapshot.id) == "corrupt":
        response.headers[scrub_results.HEADER] = "corrupt"
    return response


def _download_form(store: SnapshotStore, snapshot: CordiaxSnapshot, form: str) -> Response:
    if form == "zip":
        try:
            data = store.as_zip(snapshot)
        except SnapshotRefused as exc:
            raise Conflict(exc.message, code=exc.code) from None
        db.session.commit()
        response = Response(data, mimetype="application/zip")
        name = f"{snapshot.device}_{snapshot.version}.zip"
        response.headers.set("Content-Disposition", "attachment", filename=name)
        if snapshot.kind == "zip":
            response.headers["X-Checksum-SHA256"] = snapshot.sha256
        return response
    if form == "db":
        path = store.database_path(snapshot)
        if path is None:
            raise NotFound(
                f"Version {snapshot.version} is a ZIP bundle without a cordiax.db.",
                code="no_database",
            )
        db.session.commit()
        response = send_stored(store.remote, path, Download(DATABASE_NAME, "application/x-sqlite3"))
        if path == snapshot.path:
            response.headers["X-Checksum-SHA256"] = snapshot.sha256
        return response
    name = f"{snapshot.device}_{snapshot.version}.{EXTENSIONS[snapshot.kind]}"
    download = Download(name, "application/octet-stream", size=snapshot.size)
    response = send_stored(store.remote, snapshot.path, download)
    response.headers["X-Checksum-SHA256"] = snapshot.sha256
    return response


@bp.route("/devices/<string:device>/snapshots/<string:version>/download")
@bp.arguments(DownloadQuery, location="query")
@bp.response(200, description="The snapshot's bytes, as pushed or in the form `as` names")
def download_snapshot(query: dict, device: str, version: str):
    return _download(_find(device, version), query["form"])


@bp.route("/devices/<string:device>/latest/download")
@bp.arguments(DownloadQuery, location="query")
@bp.response(200, description="The latest snapshot's bytes, as pushed or in the form `as` names")
def download_latest(query: dict, device: str):
    return _download(_find(device, None), query["form"])


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
