"""Sync jobs on the tenancy server: each tenant's folders, jobs made through the API, runs
forced and waited for (a deadline on the run's recorded status, never a sleep)."""

from __future__ import annotations

from pathlib import Path

import requests

from tests.peers.process import wait_until
from tests.tenancy.conftest import Tenant, Tenants, unique

#: the marker a job writes into its destination (syncapp.storage.mounts.MARKER)
MARKER = ".syncapp-nas"


def instance(tenants: Tenants) -> Path:
    return Path(tenants.server.env["SYNCAPP_INSTANCE_PATH"])


def home(tenants: Tenants, who: Tenant) -> Path:
    """The tenant's personal root: the default `<instance>/sync/users/{user_id}`, made here as an
    operator (or a share exported to the user) would make it."""
    path = instance(tenants) / "sync" / "users" / str(who.id)
    path.mkdir(parents=True, exist_ok=True)
    return path


def outside(tenants: Tenants, files: dict[str, bytes] | None = None) -> Path:
    """A folder in no root at all (an /etc, another system's files)."""
    return make_tree(instance(tenants).parent / unique("outside"), files or {})


def make_tree(path: Path, files: dict[str, bytes]) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    for rel, data in files.items():
        (path / rel).parent.mkdir(parents=True, exist_ok=True)
        (path / rel).write_bytes(data)
    return path


def folder(tenants: Tenants, who: Tenant, files: dict[str, bytes] | None = None) -> Path:
    """A new folder in the tenant's personal root, holding `files`."""
    return make_tree(home(tenants, who) / unique("folder"), files or {})


def snapshot(path: Path) -> dict[str, bytes]:
    """Every file below `path` (the share marker left out), byte for byte."""
    if not path.is_dir():
        return {}
    found = {
        p.relative_to(path).as_posix(): p.read_bytes()
        for p in path.rglob("*")
        if p.is_file() and not p.is_symlink()
    }
    found.pop(MARKER, None)
    return found


def create_job(
    tenants: Tenants, who: Tenant, source: Path | str, destination: Path | str, **fields
) -> requests.Response:
    body = {
        "name": unique("job"),
        "source_path": str(source),
        "destination_path": str(destination),
        "enabled": False,  # runs only when forced: each test decides when
        "retry_delay": 0.2,
        **fields,
    }
    return tenants.call(who, "POST", "/api/v1/syncs", json=body)


def new_job(tenants: Tenants, who: Tenant, source: Path, destination: Path, **fields) -> int:
    reply = create_job(tenants, who, source, destination, **fields)
    assert reply.status_code == 201, reply.json()
    return reply.json()["id"]


def run(tenants: Tenants, who: Tenant, job_id: int) -> dict:
    """Force a run of the job and wait until it has ended; its history row."""
    forced = tenants.call(who, "POST", f"/api/v1/syncs/{job_id}/force")
    assert forced.status_code == 202, forced.json()
    run_id = forced.json()["run_id"]
    ended: dict = {}

    def finished() -> bool:
        history = tenants.get(who, f"/api/v1/syncs/{job_id}/history").json()["runs"]
        mine = next((r for r in history if r["id"] == run_id), None)
        if mine is None or mine["status"] in ("queued", "running"):
            return False
        ended.update(mine)
        return True

    wait_until(finished, timeout=60, what=f"run {run_id} of job {job_id}")
    return ended


def moving_job(tenants: Tenants, who: Tenant, files: dict[str, bytes]) -> tuple[Path, Path, int]:
    """A job moving `files` from a new folder into another (delete_after_sync), run once:
    (source, destination, job id)."""
    source, destination = folder(tenants, who, files), folder(tenants, who)
    job_id = new_job(tenants, who, source, destination, delete_after_sync=True)
    assert run(tenants, who, job_id)["files_copied"] == len(files)
    assert snapshot(source) == {} and snapshot(destination) == files
    return source, destination, job_id


def status(tenants: Tenants, who: Tenant, job_id: int) -> dict:
    return tenants.get(who, f"/api/v1/syncs/{job_id}/status").json()
