"""Authorisation matrix: every route of the URL map times {anonymous, user A, user B, admin, A's
revoked token}, each answering the status the table says.

A world holds users A, B and an administrator, and one of each of A's things (a document, a
cloud file and its replication job, a sync job, a Cordiax snapshot and poller, an API token, a
cloud conflict) plus a backup archive and a stored remote. Reads share one world; each route
that changes something gets a world of its own. Every name A owns carries
MARK, and no answer B gets may contain it: B cannot read A's things through a list either.
Mutating routes are called by anonymous, the revoked token and B first; A's things must still be
there and unchanged afterwards (compared byte for byte through A's own API), then the owner or
the administrator makes the call that is allowed. The administrator gets a fresh world of its
own for those, so that a call A made (a delete) cannot change what the administrator sees.

A route without a row fails test_every_route_has_a_row: new routes must be added here.
"""

from __future__ import annotations

import hashlib
import io
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from syncapp import create_app
from syncapp.extensions import db
from tests.backups.helpers import make_archive
from tests.conftest import bearer, make_settings, make_token, make_user
from tests.cordiax.payloads import encrypted_database
from tests.syncs.helpers import grant_folders

MARK = "alicemark"  # in every name A owns; B must never see it
ROLES = ("anonymous", "revoked", "user_b", "user_a", "admin")
REMOTE_PASSWORD = "matrix-remote-password-4f9c"  # never in an answer or a log (secret_scan)
DENIED = ("anonymous", "revoked", "user_b")  # called first on a mutating route: nothing changes

# --- the world -------------------------------------------------------------------------------


@dataclass
class World:
    app: Flask
    root: Path
    headers: dict[str, dict[str, str]]
    ids: dict[str, Any] = field(default_factory=dict)

    def call(self, role: str, method: str, path: str, **kwargs: Any):
        headers = {**self.headers[role], **kwargs.pop("headers", {})}
        return self.app.test_client().open(path, method=method, headers=headers, **kwargs)

    def owned_by_a(self) -> dict[str, Any]:
        """What A owns, as A's own API shows it (bytes as digests): unchanged after B's calls."""
        seen: dict[str, Any] = {}
        for path in (
            f"/api/v1/documents/{self.ids['document']}",
            f"/api/v1/documents/{self.ids['document']}/download",
            f"/api/v1/files/{self.ids['file']}",
            f"/api/v1/files/{self.ids['file']}/versions",
            "/api/v1/files/{file}/versions/1/download".format(**self.ids),
            f"/api/v1/syncs/{self.ids['job']}",
            f"/api/v1/cordiax/devices/{self.ids['device']}/snapshots",
            "/api/v1/cordiax/devices/{device}/snapshots/{version}/download".format(**self.ids),
            f"/api/v1/cordiax/pollers/{self.ids['poller']}",
            f"/api/v1/conflicts/{self.ids['conflict']}",
            f"/api/v1/status/{self.ids['cloud_job']}",
            "/api/v1/tokens",
            "/api/v1/notifications/targets",
            "/download/{}/{}".format(*self.ids["backup"]),
            "/restic/{restic_repo}/data/".format(**self.ids),
            "/restic/{restic_repo}/data/{restic_blob}".format(**self.ids),
            f"/api/v1/restic/repositories/{self.ids['restic_repo_id']}",
        ):
            response = self.call("user_a", "GET", path)
            body = response.get_json(silent=True)
            if body is None:
                body = hashlib.sha256(response.data).hexdigest()
            elif isinstance(body, dict):
                # times a read refreshes are not A's data
                body = {k: v for k, v in body.items() if k not in {"last_used_at", "next_run_at"}}
            elif path == "/api/v1/tokens":
                body = [{k: v for k, v in t.items() if k != "last_used_at"} for t in body]
            seen[path] = (response.status_code, body)
        return seen


def _multipart(client, path: str, token: str, fields: dict[str, Any]):
    return client.post(path, headers=bearer(token), data=fields, content_type="multipart/form-data")


@pytest.fixture
def worlds(tmp_path) -> Iterator[Callable[[str], World]]:
    """build("name"): a world in a folder of its own (database included)."""
    apps: list[Flask] = []

    def build(name: str) -> World:
        world = build_world(tmp_path / name)
        apps.append(world.app)
        return world

    yield build
    for app in apps:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def build_world(folder: Path) -> World:
    root = folder / "sync-roots"
    for name in ("a-src", "a-dst", "b-src", "b-dst"):
        (root / name).mkdir(parents=True)
    (root / "a-src" / f"{MARK}.txt").write_bytes(b"a's file to sync")
    app = create_app(
        make_settings(
            folder,
            sync={"allowed_roots": [str(root)]},
            # the stored remote points at a closed port: fail at once, no back-off
            transfer={"attempts": 1, "base_delay": 0.01, "max_delay": 0.01},
        )
    )
    with app.app_context():
        db.create_all()
    a_id = make_user(app, "alice@example.com")
    grant_folders(app, "alice@example.com", root)  # the shared root is for administrators
    make_user(app, "bob@example.com")
    make_user(app, "root@example.com", role="admin")
    ids_c = make_user(app, "carol@example.com")  # owns nothing: the one an admin may delete
    a_token = make_token(app, "alice@example.com", name=f"{MARK}-token")
    revoked = make_token(app, "alice@example.com", name=f"{MARK}-revoked")
    headers = {
        "anonymous": {},
        "revoked": bearer(revoked),
        "user_a": bearer(a_token),
        "user_b": bearer(make_token(app, "bob@example.com")),
        "admin": bearer(make_token(app, "root@example.com")),
    }
    world = World(app, root, headers)
    client = app.test_client()
    ids = world.ids

    tokens = client.get("/api/v1/tokens", headers=bearer(a_token)).get_json()
    ids["token"] = next(t["id"] for t in tokens if t["name"] == f"{MARK}-token")
    revoked_id = next(t["id"] for t in tokens if t["name"] == f"{MARK}-revoked")
    assert client.delete(f"/api/v1/tokens/{revoked_id}", headers=bearer(a_token)).status_code == 204

    document = _multipart(
        client,
        "/api/v1/documents",
        a_token,
        {"file": (io.BytesIO(b"%PDF a's invoice"), f"{MARK}.pdf"), "type": "invoice"},
    )
    assert document.status_code == 201, document.get_json()
    ids["document"] = document.get_json()["id"]

    cloud = _multipart(
        client, "/api/v1/upload", a_token, {"file": (io.BytesIO(b"a's cloud file"), f"{MARK}.txt")}
    )
    assert cloud.status_code == 202, cloud.get_json()
    ids["file"], ids["cloud_job"] = cloud.get_json()["file_id"], cloud.get_json()["job_id"]

    job = client.post(
        "/api/v1/syncs",
        headers=bearer(a_token),
        json={
            "name": f"{MARK}-job",
            "source_path": str(root / "a-src"),
            "destination_path": str(root / "a-dst"),
            "sync_interval": 3600,
            "enabled": False,
        },
    )
    assert job.status_code == 201, job.get_json()
    ids["job"] = job.get_json()["id"]
    ids["sync_folder"] = str(root / "a-src")  # inside A's granted root (and the admins')

    backup = _multipart(
        client,
        "/upload",
        a_token,
        {
            "file": (io.BytesIO(make_archive(1)), "full_2025-01-01_00-00-00.tar.gz"),
            "type": "FULL",
            "profile": f"{MARK}-document",
        },
    )
    assert backup.status_code in (200, 201), backup.get_json()
    ids["backup"] = ("FULL", "full_2025-01-01_00-00-00.tar.gz")

    remote = client.post(
        "/api/v1/remotes",
        headers=headers["admin"],
        json={
            "name": "share",
            "kind": "webdav",
            "settings": {
                "url": "http://127.0.0.1:9/dav",
                "username": "poller",
                "password": REMOTE_PASSWORD,
            },
            "grants": [{"user_id": a_id, "feature": "cordiax"}],  # a's poller reads it
        },
    )
    assert remote.status_code == 201, remote.get_json()
    ids["remote"] = remote.get_json()["id"]

    poller = client.post(
        "/api/v1/cordiax/pollers",
        headers=headers["admin"],
        json={"name": f"{MARK}-poller", "remote_id": ids["remote"], "user_id": a_id},
    )
    assert poller.status_code == 201, poller.get_json()
    ids["poller"] = poller.get_json()["id"]

    # a restic repository of A's (restic's REST protocol: names in the caller's namespace)
    ids["restic_repo"] = f"{MARK}-repo"
    restic = f"/restic/{ids['restic_repo']}"
    assert client.post(f"{restic}/?create=true", headers=bearer(a_token)).status_code == 200
    assert client.post(f"{restic}/config", headers=bearer(a_token), data=b"cfg").status_code == 200
    blob = f"{MARK} restic data".encode()
    ids["restic_blob"] = hashlib.sha256(blob).hexdigest()
    stored = client.post(f"{restic}/data/{ids['restic_blob']}", headers=bearer(a_token), data=blob)
    assert stored.status_code == 200, stored.get_json()
    repos = client.get("/api/v1/restic/repositories", headers=bearer(a_token)).get_json()
    ids["restic_repo_id"] = repos["repositories"][0]["id"]
    target = client.post(
        "/api/v1/notifications/targets",
        headers=headers["user_a"],
        # nothing listens on port 9: a "send a test" fails at once, with a 200 saying so
        json={"name": f"{MARK}-target", "kind": "apprise", "url": "json://127.0.0.1:9/hook"},
    )
    assert target.status_code == 201, target.get_json()
    ids["target"] = target.get_json()["id"]

    from syncapp.cloud.models import CloudConflict
    from syncapp.cordiax.wiring import snapshot_store
    from syncapp.timeutil import utcnow

    ids["device"] = f"{MARK}-pc"
    with app.app_context():
        snapshot = snapshot_store().store(a_id, ids["device"], encrypted_database(2000, seed=1))
        ids["version"] = snapshot.snapshot.version
        conflict = CloudConflict(
            owner_id=a_id,
            file_id=ids["file"],
            target="s3",
            remote_path=f"syncapp/{a_id}/{MARK}.txt",
            local_version=1,
            local_size=14,
            local_md5="0" * 32,
            local_modified=utcnow(),
        )
        db.session.add(conflict)
        db.session.commit()
        ids["conflict"] = conflict.id
        from syncapp.alerts.models import Alert, AlertExpectation

        silent = Alert(
            key=f"cordiax_silence:{a_id}:{ids['device']}",
            kind="cordiax_silence",
            owner_id=a_id,
            state="firing",
            title=f"Cordiax device {ids['device']}: silent",
            first_seen_at=utcnow(),
        )
        db.session.add(silent)
        db.session.add(AlertExpectation(owner_id=a_id, kind="cordiax", subject=ids["device"]))
        db.session.commit()
        ids["alert"] = silent.id
    ids["user_a"], ids["user_c"] = a_id, ids_c
    return world


# --- the table -------------------------------------------------------------------------------

# Who may do what. "ok" is the status an allowed caller gets; the others get:
#   public  every role gets `ok`
#   user    any signed-in user (data scoped to the caller where it has an owner)
#   owner   A and the administrator get `ok`; B gets 404 (the app's convention: not found, so
#           that ids do not reveal what exists); unauthenticated and revoked 401
#   own     only A (conflicts: not even administrators see another user's)
#   admin   403 for users
#   self    A's own user id: B gets 403 (seed 004's Google status); admin `ok`


@dataclass(frozen=True)
class Row:
    access: str
    ok: int
    path: str  # with {document}, {file}, ... from World.ids
    kwargs: dict[str, Any] = field(default_factory=dict)
    # anonymous callers of pages are sent to the login page; of the backups API, with
    # backups.allow_anonymous off, answered 401 like every other API route.
    page: bool = False
    # the allowed call changes A's things (so the administrator gets a fresh world)
    mutates: bool = False


def _json(body: dict[str, Any]) -> dict[str, Any]:
    return {"json": body}


_SECONDS = itertools.count()


def _upload(name: str, **fields: str) -> Callable[[], dict[str, Any]]:
    def body() -> dict[str, Any]:
        if name == "backup":  # a new archive each call: a repeat would be a 200 duplicate
            second = next(_SECONDS) % 60
            file = (
                io.BytesIO(make_archive(100 + second)),
                f"full_2025-02-01_00-00-{second:02d}.tar.gz",
            )
        else:
            file = (io.BytesIO(b"new bytes"), name)
        return {"data": {"file": file, **fields}, "content_type": "multipart/form-data"}

    return body


SYNC_UPDATE = {"name": f"{MARK}-renamed", "sync_interval": 60}
POLLER_UPDATE = {"name": f"{MARK}-renamed", "interval": 600}

TABLE: dict[tuple[str, str], Row] = {
    # public
    ("monitoring.health", "GET"): Row("public", 200, "/api/v1/health"),
    ("seed_paths.liveness", "GET"): Row("public", 200, "/health"),  # seed 004's path
    ("web.index", "GET"): Row("public", 200, "/"),  # JSON clients: the service description
    ("web.login_page", "GET"): Row("public", 200, "/login"),
    ("web.login_page", "POST"): Row("public", 400, "/login", _json({})),
    ("web.logout", "POST"): Row("public", 302, "/logout"),
    ("auth_api.login", "POST"): Row(
        "public", 401, "/auth/login", _json({"email": "alice@example.com", "password": "wrong"})
    ),
    ("auth_api.register", "POST"): Row(
        "public", 403, "/auth/register", _json({"email": "x@example.com", "password": "long1234"})
    ),
    ("static", "GET"): Row("public", 200, "/static/css/app.css"),
    # the signed token in the URL is the credential: a forged one is refused for everybody
    ("cloud.download_link", "GET"): Row(
        "public", 403, "/api/v1/files/{file}/download?token=forged.token&from_storage=google"
    ),
    ("google_oauth.callback", "GET"): Row(
        "public", 400, "/auth/google/callback?state=forged&code=x"
    ),
    # the WebSocket route authenticates itself (its before_request); without an upgrade the
    # plain route answers 426 to a signed-in caller
    ("events_ws.event_stream", "GET"): Row("user", 426, "/api/v1/ws"),
    ("events_ws.websocket_upgrade_required", "GET"): Row("user", 426, "/api/v1/ws"),
    # any signed-in user, scoped to the caller
    ("api-docs.openapi_json", "GET"): Row("user", 200, "/api/v1/openapi.json"),
    ("service.get_status", "GET"): Row("user", 200, "/api/v1/status"),
    ("service.get_metrics", "GET"): Row("user", 200, "/api/v1/metrics"),
    ("service.get_logs", "GET"): Row("user", 200, "/api/v1/logs"),
    ("quota.get_quota", "GET"): Row("user", 200, "/api/v1/quota"),
    ("prometheus.prometheus_metrics", "GET"): Row("user", 200, "/metrics"),
    ("dashboard.get_dashboard", "GET"): Row("user", 200, "/api/v1/dashboard"),
    ("auth_api.list_tokens", "GET"): Row("user", 200, "/api/v1/tokens"),
    ("auth_api.create_token", "POST"): Row("user", 201, "/api/v1/tokens", _json({"name": "new"})),
    ("documents.list_documents", "GET"): Row("user", 200, "/api/v1/documents"),
    ("documents.upload_document", "POST"): Row(
        "user", 201, "/api/v1/documents", {"_body": _upload("new.pdf", type="receipt")}
    ),
    ("cloud.list_files", "GET"): Row("user", 200, "/api/v1/files"),
    ("cloud.upload_file", "POST"): Row(
        "user", 202, "/api/v1/upload", {"_body": _upload("other.txt")}
    ),
    ("cloud_conflicts.list_conflicts", "GET"): Row("user", 200, "/api/v1/conflicts"),
    ("alerts.list_alerts", "GET"): Row("user", 200, "/api/v1/alerts"),
    ("alerts.list_expectations", "GET"): Row("user", 200, "/api/v1/alerts/expectations"),
    # an expectation may name a profile that has sent nothing yet: each caller sets their own
    ("alerts.put_expectation", "PUT"): Row(
        "user", 200, "/api/v1/alerts/expectations/backups/nightly", _json({"any_every": 3600})
    ),
    ("syncs.list_syncs", "GET"): Row("user", 200, "/api/v1/syncs"),
    ("syncs.list_roots", "GET"): Row("user", 200, "/api/v1/syncs/roots"),
    # the folder picker, in a folder of A's granted root: B has no grant there (403, as a
    # job naming that folder would get)
    ("syncs.list_folders", "GET"): Row("self", 200, "/api/v1/syncs/folders?path={sync_folder}"),
    ("remotes.list_granted_remotes", "GET"): Row("user", 200, "/api/v1/remotes/granted"),
    ("syncs.create_sync", "POST"): Row(
        "user",
        403,  # the caller's own job; a source outside the caller's sync folders is refused
        "/api/v1/syncs",
        _json({"name": "x", "source_path": "/etc", "destination_path": "/tmp/x"}),
    ),
    ("cordiax.list_devices", "GET"): Row("user", 200, "/api/v1/cordiax/devices"),
    ("cordiax_pollers.list_pollers", "GET"): Row("user", 200, "/api/v1/cordiax/pollers"),
    ("nas_sync.sync_status", "GET"): Row("user", 200, "/api/v1/sync/status"),
    ("nas_sync.sync_config", "GET"): Row("user", 200, "/api/v1/sync/config"),
    # no NAS configured: test answers success false, run 400
    ("nas_sync.test_nas", "POST"): Row("user", 200, "/api/v1/sync/test"),
    ("nas_sync.run_sync", "POST"): Row("user", 400, "/api/v1/sync/run"),
    ("google_oauth.start", "GET"): Row("user", 503, "/auth/google/start?format=json"),
    ("google_oauth.disconnect", "DELETE"): Row("user", 200, "/auth/google"),
    # backup archives: every user's a namespace of their own (the caller's; an administrator
    # names A's with ?owner, which is B's 404); deleting is for administrators
    ("backups.list_backups", "GET"): Row("user", 200, "/list"),
    ("backups.list_backups_of_type", "GET"): Row("user", 200, "/list/FULL"),
    ("backups.backup_stats", "GET"): Row("user", 200, "/stats"),
    ("backups.verify_backups", "POST"): Row("user", 200, "/verify", _json({"local_backups": {}})),
    ("backups.download_backup", "GET"): Row(
        "owner", 200, "/download/{backup_type}/{backup_name}?owner={user_a}"
    ),
    ("backup_restore.restore_plan", "GET"): Row(
        "owner", 200, f"/api/v1/backups/{MARK}-document/restore-plan?owner={{user_a}}"
    ),
    ("backups.upload_backup", "POST"): Row(
        "user",
        201,
        "/upload",
        {"_body": _upload("backup", type="FULL", profile="document")},
    ),
    ("backups.verify_archive", "POST"): Row(
        "owner", 200, "/backups/{backup_type}/{backup_name}/verify?owner={user_a}"
    ),
    ("backups.delete_backup", "DELETE"): Row(
        "admin", 204, "/backups/{backup_type}/{backup_name}?owner={user_a}", mutates=True
    ),
    # A's things
    ("documents.get_document", "GET"): Row("owner", 200, "/api/v1/documents/{document}"),
    ("documents.download_document", "GET"): Row(
        "owner", 200, "/api/v1/documents/{document}/download"
    ),
    ("documents.delete_document", "DELETE"): Row(
        "owner", 204, "/api/v1/documents/{document}", mutates=True
    ),
    ("nas_sync.sync_one_document", "POST"): Row(
        "owner", 400, "/api/v1/sync/document/{document}"
    ),  # found, but no NAS is configured
    ("cloud.get_file", "GET"): Row("owner", 200, "/api/v1/files/{file}"),
    ("cloud.list_versions", "GET"): Row("owner", 200, "/api/v1/files/{file}/versions"),
    ("cloud.download_version", "GET"): Row(
        "owner", 200, "/api/v1/files/{file}/versions/1/download"
    ),
    ("cloud.restore_version", "POST"): Row(
        "owner", 202, "/api/v1/files/{file}/versions/1/restore", mutates=True
    ),
    ("cloud.delete_file", "DELETE"): Row("owner", 204, "/api/v1/files/{file}", mutates=True),
    ("cloud.job_status", "GET"): Row("owner", 200, "/api/v1/status/{cloud_job}"),
    ("cloud_conflicts.get_conflict", "GET"): Row("own", 200, "/api/v1/conflicts/{conflict}"),
    ("alerts.get_alert", "GET"): Row("owner", 200, "/api/v1/alerts/{alert}"),
    ("alerts.delete_expectation", "DELETE"): Row(
        "owner", 204, "/api/v1/alerts/expectations/cordiax/{device}?owner={user_a}", mutates=True
    ),
    ("cloud_conflicts.resolve_conflict", "POST"): Row(
        "own",
        503,  # A's, but no s3 cloud is set up here
        "/api/v1/conflicts/{conflict}/resolve",
        _json({"policy": "manual", "keep": "local"}),
    ),
    ("syncs.get_sync", "GET"): Row("owner", 200, "/api/v1/syncs/{job}"),
    ("syncs.update_sync", "PUT"): Row(
        "owner", 200, "/api/v1/syncs/{job}", _json(SYNC_UPDATE), mutates=True
    ),
    ("syncs.delete_sync", "DELETE"): Row("owner", 204, "/api/v1/syncs/{job}", mutates=True),
    ("syncs.sync_files", "GET"): Row("owner", 200, "/api/v1/syncs/{job}/files"),
    ("syncs.sync_history", "GET"): Row("owner", 200, "/api/v1/syncs/{job}/history"),
    ("syncs.sync_status", "GET"): Row("owner", 200, "/api/v1/syncs/{job}/status"),
    ("syncs.force_sync", "POST"): Row("owner", 202, "/api/v1/syncs/{job}/force", mutates=True),
    ("syncs.retry_sync", "POST"): Row("owner", 202, "/api/v1/syncs/{job}/retry", mutates=True),
    ("syncs.start_sync", "POST"): Row("owner", 200, "/api/v1/syncs/{job}/start", mutates=True),
    ("syncs.stop_sync", "POST"): Row("owner", 200, "/api/v1/syncs/{job}/stop", mutates=True),
    # device names are per user: the administrator names whose (?owner=), A may name herself
    ("cordiax.list_snapshots", "GET"): Row(
        "owner", 200, "/api/v1/cordiax/devices/{device}/snapshots?owner={user_a}"
    ),
    ("cordiax.download_snapshot", "GET"): Row(
        "owner", 200, "/api/v1/cordiax/devices/{device}/snapshots/{version}/download?owner={user_a}"
    ),
    ("cordiax.download_latest", "GET"): Row(
        "owner", 200, "/api/v1/cordiax/devices/{device}/latest/download?owner={user_a}"
    ),
    ("cordiax.delete_snapshot", "DELETE"): Row(
        "admin",
        204,
        "/api/v1/cordiax/devices/{device}/snapshots/{version}?owner={user_a}",
        mutates=True,
    ),
    ("cordiax_pollers.get_poller", "GET"): Row("owner", 200, "/api/v1/cordiax/pollers/{poller}"),
    ("cordiax_pollers.update_poller", "PATCH"): Row(
        "owner", 200, "/api/v1/cordiax/pollers/{poller}", _json(POLLER_UPDATE), mutates=True
    ),
    ("cordiax_pollers.update_poller", "PUT"): Row(
        "owner", 200, "/api/v1/cordiax/pollers/{poller}", _json(POLLER_UPDATE), mutates=True
    ),
    ("cordiax_pollers.delete_poller", "DELETE"): Row(
        "owner", 204, "/api/v1/cordiax/pollers/{poller}", mutates=True
    ),
    ("cordiax_pollers.run_poller", "POST"): Row(
        "owner", 200, "/api/v1/cordiax/pollers/{poller}/run", mutates=True
    ),
    ("cordiax_pollers.test_poller", "POST"): Row(
        "owner", 200, "/api/v1/cordiax/pollers/{poller}/test"
    ),
    ("cordiax_pollers.create_poller", "POST"): Row(
        "admin", 201, "/api/v1/cordiax/pollers", _json({"name": "p", "remote_id": "{remote}"})
    ),
    ("auth_api.revoke_api_token", "DELETE"): Row(
        "owner", 204, "/api/v1/tokens/{token}", mutates=True
    ),
    ("google_oauth.status", "GET"): Row("self", 200, "/auth/google/status/{user_a}"),
    # administrators only
    ("users.list_users", "GET"): Row("admin", 200, "/api/v1/users"),
    # the NAS target (issue 22): the server's, set by administrators only
    ("nas_sync.get_nas_target", "GET"): Row("admin", 200, "/api/v1/sync/target"),
    ("nas_sync.set_nas_target", "PUT"): Row(
        "admin", 200, "/api/v1/sync/target", _json({"mount_path": "/nowhere/nas"}), mutates=True
    ),
    ("nas_sync.reset_nas_target", "DELETE"): Row("admin", 200, "/api/v1/sync/target", mutates=True),
    ("nas_sync.test_nas_target", "POST"): Row(
        "admin", 200, "/api/v1/sync/target/test", _json({"mount_path": "/nowhere/nas"})
    ),
    ("cordiax.list_refused", "GET"): Row("admin", 200, "/api/v1/cordiax/refused"),
    ("users.create_account", "POST"): Row(
        "admin", 201, "/api/v1/users", _json({"email": "c@example.com", "password": "long1234"})
    ),
    ("users.get_account", "GET"): Row("admin", 200, "/api/v1/users/{user_a}"),
    ("users.update_account", "PATCH"): Row(
        "admin", 200, "/api/v1/users/{user_a}", _json({"full_name": "Renamed"}), mutates=True
    ),
    ("users.delete_account", "DELETE"): Row("admin", 204, "/api/v1/users/{user_c}", mutates=True),
    ("remotes.list_remotes", "GET"): Row("admin", 200, "/api/v1/remotes"),
    ("remotes.create_remote", "POST"): Row(
        "admin",
        201,
        "/api/v1/remotes",
        _json({"name": "other", "kind": "local", "settings": {"root": "/tmp/other"}}),
    ),
    ("remotes.get_remote", "GET"): Row("admin", 200, "/api/v1/remotes/{remote}"),
    ("remotes.update_remote", "PATCH"): Row(
        "admin", 200, "/api/v1/remotes/{remote}", _json({"name": "renamed"}), mutates=True
    ),
    ("remotes.update_remote", "PUT"): Row(
        "admin", 200, "/api/v1/remotes/{remote}", _json({"name": "renamed"}), mutates=True
    ),
    ("remotes.delete_remote", "DELETE"): Row(
        "admin", 204, "/api/v1/remotes/{remote}", mutates=True
    ),
    ("remotes.test_remote", "POST"): Row("admin", 200, "/api/v1/remotes/{remote}/test"),
    # restic repositories: the API (administrators name A's by id), and restic's REST protocol,
    # whose names resolve in the caller's namespace only (an administrator's too: "own")
    ("restic_api.list_repositories", "GET"): Row("user", 200, "/api/v1/restic/repositories"),
    ("restic_api.create_repository", "POST"): Row(
        "user", 201, "/api/v1/restic/repositories", _json({"name": "new-repo"})
    ),
    ("restic_api.get_repository", "GET"): Row(
        "owner", 200, "/api/v1/restic/repositories/{restic_repo_id}"
    ),
    ("restic_api.update_repository", "PATCH"): Row(
        "owner",
        200,
        "/api/v1/restic/repositories/{restic_repo_id}",
        _json({"append_only": True}),
        mutates=True,
    ),
    ("restic_api.delete_repository", "DELETE"): Row(
        "owner", 204, "/api/v1/restic/repositories/{restic_repo_id}", mutates=True
    ),
    ("restic_api.grant_new_token", "POST"): Row(
        "admin", 201, "/api/v1/restic/repositories/{restic_repo_id}/token", mutates=True
    ),
    # `restic init` makes the caller's own repository of that name (B's is B's)
    ("restic.create_repository", "POST"): Row("user", 200, "/restic/{restic_repo}/?create=true"),
    ("restic.config", "GET"): Row("own", 200, "/restic/{restic_repo}/config"),
    ("restic.config", "POST"): Row("own", 403, "/restic/{restic_repo}/config"),  # never replaced
    ("restic.config", "DELETE"): Row("own", 200, "/restic/{restic_repo}/config", mutates=True),
    ("restic.listing", "GET"): Row("own", 200, "/restic/{restic_repo}/data/"),
    ("restic.blob", "GET"): Row("own", 200, "/restic/{restic_repo}/data/{restic_blob}"),
    ("restic.blob", "POST"): Row("own", 403, "/restic/{restic_repo}/data/{restic_blob}"),
    ("restic.blob", "DELETE"): Row(
        "own", 200, "/restic/{restic_repo}/data/{restic_blob}", mutates=True
    ),
    # the integrity scrub: store-wide, so administrators only
    ("scrub.scrub_status", "GET"): Row("admin", 200, "/api/v1/scrub"),
    ("scrub.request_scrub", "POST"): Row("admin", 202, "/api/v1/scrub", mutates=True),
    ("scrub.scrub_findings", "GET"): Row("admin", 200, "/api/v1/scrub/findings"),
    # pages: any signed-in user; anonymous callers are redirected to the login page
    ("web.restic_page", "GET"): Row("user", 200, "/restic", page=True),
    ("web.dashboard", "GET"): Row("user", 200, "/dashboard", page=True),
    ("web.backups_page", "GET"): Row("user", 200, "/backups", page=True),
    ("web.cordiax_page", "GET"): Row("user", 200, "/cordiax", page=True),
    ("web.documents_page", "GET"): Row("user", 200, "/documents", page=True),
    ("web.syncs_page", "GET"): Row("user", 200, "/syncs", page=True),
    ("web.sync_job_page", "GET"): Row("owner", 200, "/syncs/{job}", page=True),
    ("web.cloud_page", "GET"): Row("user", 200, "/cloud", page=True),
    ("web.alerts_page", "GET"): Row("user", 200, "/alerts", page=True),
    ("web.alert_page", "GET"): Row("owner", 200, "/alerts/{alert}", page=True),
    ("web.api_docs", "GET"): Row("user", 200, "/docs", page=True),
    ("web.connect_page", "GET"): Row("user", 200, "/connect", page=True),
    ("web.connect_script", "GET"): Row("user", 200, "/connect/scripts/backup.sh", page=True),
    ("seed_paths.redoc", "GET"): Row("user", 200, "/redoc", page=True),
    ("notifications.list_targets", "GET"): Row("user", 200, "/api/v1/notifications/targets"),
    ("notifications.create_target", "POST"): Row(
        "user",
        201,
        "/api/v1/notifications/targets",
        _json({"name": "new", "kind": "apprise", "url": "json://127.0.0.1:9/new"}),
    ),
    ("notifications.update_target", "PATCH"): Row(
        "owner",
        200,
        "/api/v1/notifications/targets/{target}",
        _json({"enabled": False}),
        mutates=True,
    ),
    ("notifications.delete_target", "DELETE"): Row(
        "owner", 204, "/api/v1/notifications/targets/{target}", mutates=True
    ),
    ("notifications.test_target", "POST"): Row(
        "owner", 200, "/api/v1/notifications/targets/{target}/test"
    ),
    ("notifications.list_deliveries", "GET"): Row("user", 200, "/api/v1/notifications/deliveries"),
    ("settings.notifications", "GET"): Row("user", 200, "/settings/notifications", page=True),
    ("settings.index", "GET"): Row("user", 200, "/settings", page=True),
    ("settings.nas", "GET"): Row("user", 200, "/settings/nas", page=True),
    ("settings.tokens", "GET"): Row("user", 200, "/settings/tokens", page=True),
    ("settings.pollers", "GET"): Row("admin", 200, "/settings/pollers", page=True),
    ("settings.remotes", "GET"): Row("admin", 200, "/settings/remotes", page=True),
    ("web.scrub_page", "GET"): Row("admin", 200, "/scrub", page=True),
    ("settings.users", "GET"): Row("admin", 200, "/settings/users", page=True),
}


def expected(row: Row, role: str) -> int:
    if row.access == "public":
        return row.ok
    if role in ("anonymous", "revoked"):
        return 302 if row.page else 401
    if row.access == "user":
        return row.ok
    if row.access == "admin":
        return row.ok if role == "admin" else 403
    if role == "user_a":
        return row.ok
    if row.access == "self":
        return 403 if role == "user_b" else row.ok
    if row.access == "own":
        return 404
    return 404 if role == "user_b" else row.ok  # owner


def request_for(world: World, row: Row) -> dict[str, Any]:
    ids = {
        **world.ids,
        "backup_type": world.ids["backup"][0],
        "backup_name": world.ids["backup"][1],
    }
    kwargs = dict(row.kwargs)
    body = kwargs.pop("_body", None)
    if body is not None:
        kwargs.update(body())
    if "json" in kwargs:
        kwargs["json"] = {
            k: (int(v.format(**ids)) if isinstance(v, str) and v.startswith("{") else v)
            for k, v in kwargs["json"].items()
        }
    accept = "text/html" if row.page else "application/json"
    return {"path": row.path.format(**ids), "headers": {"Accept": accept}, **kwargs}


def call(world: World, role: str, method: str, row: Row):
    request = request_for(world, row)
    return world.call(role, method, request.pop("path"), **request)


def check(world: World, role: str, method: str, row: Row) -> None:
    response = call(world, role, method, row)
    assert response.status_code == expected(row, role), (
        role,
        method,
        row.path,
        response.status_code,
        response.get_data(as_text=True)[:300],
    )
    if role == "user_b":
        # a 404 may repeat the device name B asked for; nothing else of A's may show
        body = response.data.replace(world.ids["device"].encode(), b"")
        assert MARK.encode() not in body, f"B saw A's things: {row.path}"


def routes(app: Flask) -> set[tuple[str, str]]:
    return {
        (rule.endpoint, method)
        for rule in app.url_map.iter_rules()
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }


def test_every_route_has_a_row(app):
    missing = routes(app) - set(TABLE)
    assert not missing, f"routes without a row in the authorisation matrix: {sorted(missing)}"
    stale = set(TABLE) - routes(app)
    assert not stale, f"rows for routes that no longer exist: {sorted(stale)}"


READS = sorted(key for key in TABLE if key[1] == "GET" and not TABLE[key].mutates)
CHANGES = sorted(set(TABLE) - set(READS))


def _name(key: tuple[str, str]) -> str:
    return f"{key[1]} {key[0]}"


@pytest.fixture(scope="module")
def shared_world(tmp_path_factory) -> Iterator[World]:
    """One world for every read: a GET changes nothing, so the rows need not pay for their own."""
    world = build_world(tmp_path_factory.mktemp("reads"))
    yield world
    with world.app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.mark.parametrize("key", READS, ids=_name)
def test_read_route_answers_each_role_as_the_table_says(shared_world, key):
    row = TABLE[key]
    for role in ROLES:
        check(shared_world, role, key[1], row)


@pytest.mark.parametrize("key", CHANGES, ids=_name)
def test_changing_route_answers_each_role_and_b_changes_nothing_of_a(worlds, key):
    method = key[1]
    row = TABLE[key]
    world = worlds("a")
    before = world.owned_by_a()
    for role in DENIED:
        check(world, role, method, row)
    # whatever anonymous, the revoked token and B tried, A's things are all still there, unchanged
    assert world.owned_by_a() == before, f"{method} {row.path} by B changed A's things"
    check(world, "user_a", method, row)
    admin_world = worlds("admin") if row.mutates else world
    check(admin_world, "admin", method, row)


# --- through names ---------------------------------------------------------------------------
# Some things are reached by name, not id: backups (type and file name), Cordiax devices,
# folders, stored remotes. The rows above name A's with `?owner=`; here B uses A's very names
# in B's own namespace (no ?owner), where they must mean nothing: the answer is exactly the one
# a name nobody has gets, and A's things are unchanged afterwards.

NAMED = sorted(
    key for key in TABLE if "?owner={user_a}" in TABLE[key].path and TABLE[key].access != "admin"
)
UNKNOWN = {"device": f"{MARK}-nobody-pc", "backup_name": "full_1999-01-01_00-00-00.tar.gz"}


def _in_own_namespace(row: Row, names: dict[str, str] | None = None) -> Row:
    path = row.path.replace("?owner={user_a}", "")
    for key, value in (names or {}).items():
        path = path.replace("{" + key + "}", value)
    return Row(row.access, row.ok, path, row.kwargs, row.page, row.mutates)


def _shape(response) -> tuple[int, str | None]:
    body = response.get_json(silent=True) or {}
    # the machine code: `code` on seed 003's backup routes (their `error` is the sentence)
    return response.status_code, body.get("code", body.get("error"))


@pytest.mark.parametrize("key", NAMED, ids=_name)
def test_b_using_as_names_in_bs_own_namespace_finds_nothing(worlds, key):
    world = worlds("names")
    before = world.owned_by_a()
    method, row = key[1], TABLE[key]
    as_names = call(world, "user_b", method, _in_own_namespace(row))
    nobodys = call(world, "user_b", method, _in_own_namespace(row, UNKNOWN))
    assert as_names.status_code == 404, (row.path, as_names.get_data(as_text=True)[:300])
    # the same answer as for a name nobody has: existence is not revealed
    assert _shape(as_names) == _shape(nobodys)
    body = as_names.data.replace(world.ids["device"].encode(), b"")
    assert MARK.encode() not in body.replace(b"alicemark-document", b"")
    assert world.owned_by_a() == before


def grant_b_own_folders(world: World) -> None:
    from tests.syncs.helpers import grant_folders

    grant_folders(world.app, "bob@example.com", world.root / "b-src", world.root / "b-dst")


def test_b_cannot_use_as_folders_for_a_sync_job(worlds):
    world = worlds("folders")
    grant_b_own_folders(world)
    before = world.owned_by_a()
    a_source, a_destination = world.root / "a-src", world.root / "a-dst"
    nowhere = world.root / f"{MARK}-does-not-exist"
    answers = []
    for source, destination in (
        (a_source, world.root / "b-dst"),  # A's files taken (delete_after_sync)
        (world.root / "b-src", a_destination),  # A's destination overwritten
        (world.root, world.root / "b-dst"),  # the whole shared root
        (nowhere, world.root / "b-dst"),
    ):
        answer = world.call(
            "user_b",
            "POST",
            "/api/v1/syncs",
            json={
                "name": f"b-job-{len(answers)}",
                "source_path": str(source),
                "destination_path": str(destination),
                "delete_after_sync": True,
                "enabled": True,
            },
        )
        assert answer.status_code in (400, 403), answer.get_json()
        answers.append(_shape(answer))
    # A's folder is refused exactly like a folder that does not exist
    assert answers[0] == answers[3]
    assert world.owned_by_a() == before
    assert (a_source / f"{MARK}.txt").read_bytes() == b"a's file to sync"
    assert world.call("user_b", "GET", "/api/v1/syncs").get_json()["syncs"] == []
    own = world.call(
        "user_b",
        "POST",
        "/api/v1/syncs",
        json={"name": "b-own", "source_path": str(world.root / "b-src"),
              "destination_path": str(world.root / "b-dst"), "enabled": False},
    )  # fmt: skip
    assert own.status_code == 201, own.get_json()  # B's own folders work: not a blanket refusal


def test_b_cannot_use_nor_find_a_remote_granted_to_a(worlds):
    world = worlds("remotes")
    grant_b_own_folders(world)
    (world.root / "b-src" / "b.txt").write_bytes(b"b's file")

    def job_to(remote: str):
        return world.call(
            "user_b",
            "POST",
            "/api/v1/syncs",
            json={
                "name": f"to-{remote}",
                "source_path": str(world.root / "b-src"),
                "destination_path": "inbox",
                "destination_remote": remote,
            },
        )

    granted_to_a, nobodys = job_to("share"), job_to("no-such-remote")
    assert granted_to_a.status_code == 400
    assert _shape(granted_to_a) == _shape(nobodys)
    assert granted_to_a.get_json()["message"].replace("share", "X") == nobodys.get_json()[
        "message"
    ].replace("no-such-remote", "X")
    listed = world.call("user_b", "GET", "/api/v1/remotes/granted")
    assert listed.status_code == 200 and "share" not in listed.get_data(as_text=True)
