"""/api/v1/cordiax: devices and their snapshot versions (pollers live in pollers_routes.py)."""

from __future__ import annotations

from flask import Response, stream_with_context
from flask_login import current_user
from flask_smorest import Blueprint

from ..errors import NotFound
from ..security import admin_required
from .models import CordiaxSnapshot
from .schemas import DeviceInfo, SnapshotInfo
from .snapshots import EXTENSIONS
from .store import snapshot_store

bp = Blueprint(
    "cordiax",
    __name__,
    url_prefix="/api/v1/cordiax",
    description="Cordiax devices and snapshots (seed 002)",
)


def _find(device: str, version: str | None) -> CordiaxSnapshot:
    """A snapshot of the caller's device (admins see every user's; `user_id` must not leak)."""
    store = snapshot_store()
    owners = [current_user.id]
    if current_user.is_admin:
        owners += [
            uid for (uid, name) in store.devices(None) if name == device and uid not in owners
        ]
    for owner in owners:
        found = (
            store.latest(owner, device) if version is None else store.get(owner, device, version)
        )
        if found is not None:
            return found
    raise NotFound(
        f"No snapshot {version or 'yet'} for device {device!r}.", code="snapshot_not_found"
    )


@bp.route("/devices")
@bp.response(200, DeviceInfo(many=True))
def list_devices():
    store = snapshot_store()
    found = store.devices(None if current_user.is_admin else current_user.id)
    return [
        {"device": device, "user_id": user_id, "snapshots": len(items), "latest": items[0]}
        for (user_id, device), items in sorted(found.items(), key=lambda kv: kv[0][1])
    ]


@bp.route("/devices/<string:device>/snapshots")
@bp.response(200, SnapshotInfo(many=True))
def list_snapshots(device: str):
    latest = _find(device, None)
    return snapshot_store().versions(latest.user_id, device)


def _download(snapshot: CordiaxSnapshot) -> Response:
    store = snapshot_store()
    reader = store.remote.open_read(snapshot.path)
    name = f"{snapshot.device}_{snapshot.version}.{EXTENSIONS[snapshot.kind]}"
    response = Response(
        stream_with_context(iter(lambda: reader.read(1024 * 1024), b"")),
        mimetype="application/octet-stream",
    )
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers["Content-Length"] = str(snapshot.size)
    response.headers["X-Checksum-SHA256"] = snapshot.sha256
    response.call_on_close(reader.close)
    return response


@bp.route("/devices/<string:device>/snapshots/<string:version>/download")
@bp.response(200, description="The snapshot's bytes")
def download_snapshot(device: str, version: str):
    return _download(_find(device, version))


@bp.route("/devices/<string:device>/latest/download")
@bp.response(200, description="The latest snapshot's bytes")
def download_latest(device: str):
    return _download(_find(device, None))


@bp.route("/devices/<string:device>/snapshots/<string:version>", methods=["DELETE"])
@bp.response(204)
@admin_required
def delete_snapshot(device: str, version: str):
    snapshot_store().delete(_find(device, version))
