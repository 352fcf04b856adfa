"""Issue 18, item 3: a destination that accepts and never answers must not take the database
from anyone. The pool is held at one connection; while the background destination check waits
on the stalled server, a user's request still gets that connection."""

from __future__ import annotations

import io
import socket
import threading
import uuid
from urllib.parse import urlsplit

import pytest

from syncapp.auth.accounts import find_user
from syncapp.monitoring.checks import DestinationWatch
from syncapp.remotes.catalog import create_remote
from syncapp.storage import open_remote
from tests.conftest import bearer, make_token, make_user
from tests.cordiax.payloads import cordiax_bundle
from tests.peers.process import free_port
from tests.peers.tcp_proxy import StallingProxy, TcpProxy
from tests.syncs.helpers import grant_folders

MiB = 1024 * 1024
ONE_CONNECTION = {"pool_size": 1, "max_overflow": 0, "pool_timeout": 2}


def stalled_job(make_app, tmp_path, webdav: dict | None = None, files: int = 1) -> tuple:
    """An app with a pool of one connection and ana's job syncing to a WebDAV server that
    accepts connections and never answers (or to `webdav`'s settings); (app, ana's client,
    the stalled listener, the job's id)."""
    root = tmp_path / "roots"
    (root / "src").mkdir(parents=True)
    for name in "abcdefgh"[:files]:
        (root / "src" / f"{name}.txt").write_text(name)
    app = make_app(
        sync={"allowed_roots": [str(root)]},
        transfer={"attempts": 1},
        SQLALCHEMY_ENGINE_OPTIONS=ONE_CONNECTION,
    )
    make_user(app, "ana@example.com")
    grant_folders(app, "ana@example.com", root)
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = bearer(make_token(app, "ana@example.com"))[
        "Authorization"
    ]
    stalled = socket.create_server(("127.0.0.1", free_port()))  # accepts, never answers
    stalled.settimeout(30)
    url = f"http://127.0.0.1:{stalled.getsockname()[1]}/dav"
    settings = webdav or {"url": url, "username": "a", "password": "b"}
    with app.app_context():
        ana = find_user("ana@example.com").id
        create_remote(
            "nas", "webdav", settings,
            [{"user_id": ana, "feature": "syncs"}],
        )  # fmt: skip
    body = {"name": "j", "source_path": str(root / "src"), "destination_remote": "nas",
            "destination_path": "d", "workers": 1}  # fmt: skip
    created = client.post("/api/v1/syncs", json=body)
    assert created.status_code == 201
    return app, client, stalled, created.get_json()["id"]


def client_health(client):
    return client.get("/api/v1/health")


def users_get_the_connection(client) -> None:
    listed = client.get("/api/v1/syncs")
    assert listed.status_code == 200, listed.get_json()
    health = client.get("/api/v1/health")
    assert health.status_code == 200, health.get_json()


def test_a_stalled_destination_holds_no_database_connection(make_app, tmp_path):
    app, client, stalled, _ = stalled_job(make_app, tmp_path)
    check = threading.Thread(target=DestinationWatch.of(app).refresh, daemon=True)
    check.start()
    probe, _ = stalled.accept()  # the check is now waiting on the stalled server
    try:
        users_get_the_connection(client)
    finally:
        probe.close()
        stalled.close()
    check.join(30)
    assert not check.is_alive()
    [job] = client.get("/api/v1/health").get_json()["checks"]["sync_destinations"]["jobs"]
    assert job["status"] == "error"


def running(app, job_id: int, **hooks) -> threading.Thread:
    from syncapp.syncs.runner import run_now

    def run() -> None:
        with app.app_context():
            run_now(job_id, **hooks)

    runner = threading.Thread(target=run, daemon=True)
    runner.start()
    return runner


def through(proxy: TcpProxy, settings: dict) -> dict:
    """A peer's settings with its URL pointed at `proxy`."""
    url = urlsplit(settings["url"])
    return {**settings, "url": url._replace(netloc=f"127.0.0.1:{proxy.port}").geturl()}


def test_a_sync_run_waiting_on_a_stalled_destination_holds_no_connection(make_app, tmp_path):
    app, client, stalled, job_id = stalled_job(make_app, tmp_path)
    runner = running(app, job_id)
    peer, _ = stalled.accept()  # the run is now waiting on the stalled server
    try:
        users_get_the_connection(client)
    finally:
        peer.close()
        stalled.close()
    runner.join(60)
    assert not runner.is_alive()


def test_a_file_copy_stalled_by_its_destination_holds_no_connection(
    make_app, tmp_path, webdav_server
):
    """The destination answers the listing, then hangs on the upload of the file."""
    proxy = StallingProxy("127.0.0.1", urlsplit(webdav_server.settings["url"]).port, b"PUT ")
    proxy.start()
    settings = through(proxy, webdav_server.settings)
    app, client, stalled, job_id = stalled_job(make_app, tmp_path, settings)
    stalled.close()
    runner = running(app, job_id)
    try:
        assert proxy.stalled.wait(30)  # the copy is now waiting on the stalled upload
        users_get_the_connection(client)
    finally:
        proxy.stop()
    runner.join(60)
    assert not runner.is_alive()


def test_a_copy_stalled_after_another_was_recorded_holds_no_connection(
    make_app, tmp_path, webdav_server
):
    """a.txt is copied and its outcome recorded and announced; then b.txt's upload hangs. The
    announcement reads the job again: that read must not keep a transaction open."""
    from syncapp.syncs.live import announce as _announce

    proxy = StallingProxy(
        "127.0.0.1", urlsplit(webdav_server.settings["url"]).port, b"PUT ", skip=1
    )
    proxy.start()
    settings = through(proxy, webdav_server.settings)
    app, client, stalled, job_id = stalled_job(make_app, tmp_path, settings, files=2)
    stalled.close()
    announced = threading.Event()

    def on_event(name: str, payload: dict, job) -> None:
        _announce(name, payload, job)
        if name == "file_synced":
            announced.set()

    runner = running(app, job_id, on_event=on_event)
    try:
        assert proxy.stalled.wait(30)  # b.txt's upload is now waiting on the stalled server
        assert announced.wait(30)  # a.txt's outcome was recorded and announced
        users_get_the_connection(client)
    finally:
        proxy.stop()
    runner.join(60)
    assert not runner.is_alive()


@pytest.mark.parametrize(
    ("action", "method"),
    [("run", b"GET "), ("test", b"PROPFIND ")],
    ids=["a poll stalled on the download", "a connection test stalled on the stat"],
)
def test_a_poller_on_a_stalled_share_holds_no_connection(make_app, webdav_server, action, method):
    """The share hangs on the poller's download of the client's file (after answering its
    stat), or on the stat of the connection test."""
    proxy = StallingProxy("127.0.0.1", urlsplit(webdav_server.settings["url"]).port, method)
    proxy.start()
    folder = f"cordiax-{uuid.uuid4().hex[:12]}"
    settings = {**through(proxy, webdav_server.settings), "remote_path": folder}
    with open_remote("webdav", **{**webdav_server.settings, "remote_path": folder}) as cordiax:
        data = cordiax_bundle(seed=1)
        cordiax.write("cordiax_sync/cordiax_sync.zip", io.BytesIO(data), size=len(data))
    app = make_app(SQLALCHEMY_ENGINE_OPTIONS=ONE_CONNECTION)
    make_user(app, "root@example.com", role="admin")
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = bearer(make_token(app, "root@example.com"))[
        "Authorization"
    ]
    body = {"name": "share", "kind": "webdav", "settings": settings}
    remote = client.post("/api/v1/remotes", json=body)
    assert remote.status_code == 201, remote.get_json()
    poller = client.post(
        "/api/v1/cordiax/pollers", json={"name": "pc", "remote_id": remote.get_json()["id"]}
    )
    assert poller.status_code == 201, poller.get_json()
    answers: list = []

    def run() -> None:
        answers.append(client.post(f"/api/v1/cordiax/pollers/{poller.get_json()['id']}/{action}"))

    polling = threading.Thread(target=run, daemon=True)
    polling.start()
    try:
        assert proxy.stalled.wait(30)  # the poll is now waiting on the stalled download
        users_get_the_connection(client)
    finally:
        proxy.stop()
    polling.join(60)
    assert not polling.is_alive()
    [answer] = answers
    assert answer.status_code == 200, answer.get_json()
    if action == "run":
        assert answer.get_json()["last_result"] == "error"
    else:
        assert answer.get_json()["success"] is False


def s3_through(make_app, s3_server, proxy: StallingProxy, prefix: str):
    """An app with a pool of one connection whose s3 cloud is the S3 peer behind `proxy`,
    uploading in parts of 5 MiB; (the app, alice)."""
    from tests.cloud.conftest import CloudUser

    settings = {**s3_server.settings, "endpoint_url": f"http://127.0.0.1:{proxy.port}",
                "prefix": prefix, "multipart_threshold": 0, "part_size": 5 * MiB}  # fmt: skip
    app = make_app(
        cloud={"s3_remote": "cloud-s3", "max_attempts": 1},
        transfer={"attempts": 1},
        SQLALCHEMY_ENGINE_OPTIONS=ONE_CONNECTION,
    )
    with app.app_context():
        create_remote("cloud-s3", "s3", settings)
    return app, CloudUser(app, "alice@example.com")


@pytest.mark.parametrize(
    ("first", "stall", "skip"),
    [(None, b"PUT ", 1), (b"v1", b"HEAD ", 0)],
    ids=["the second part of an upload", "the stat before overwriting a synced copy"],
)
def test_replication_stalled_by_the_cloud_holds_no_connection(
    make_app, s3_server, first, stall, skip
):
    """An upload to S3 in parts whose first part lands and is recorded as progress, then the
    cloud hangs on the second; or a file replicated once, whose next version finds the cloud
    hanging on the stat that tells whether someone else changed the copy."""
    from syncapp.cloud.replicator import replicate_due
    from tests.peers.s3 import empty_prefix

    port = urlsplit(s3_server.settings["endpoint_url"]).port
    proxy = StallingProxy("127.0.0.1", port, b"no stall yet", skip=skip).start()
    prefix = f"cloud-{uuid.uuid4().hex[:12]}"
    app, alice = s3_through(make_app, s3_server, proxy, prefix)
    if first is not None:
        alice.uploaded(first, "big.bin", sync_s3="true")
        [done] = replicate_due(app)
        assert done.status == "completed", done
    proxy.method = stall
    alice.uploaded(b"x" * (11 * MiB), "big.bin", sync_s3="true")
    replicating = threading.Thread(
        target=replicate_due, args=(app,), kwargs={"progress_bytes": 1, "progress_seconds": 0},
        daemon=True,
    )  # fmt: skip
    replicating.start()
    try:
        assert proxy.stalled.wait(30)  # the replication is now waiting on the stalled cloud
        listed = alice.get("/api/v1/documents")
        assert listed.status_code == 200, listed.get_json()
        assert client_health(alice.http).status_code == 200
    finally:
        proxy.stop()
        replicating.join(60)
        empty_prefix(s3_server.settings, prefix + "/")
    assert not replicating.is_alive()


@pytest.mark.parametrize(
    ("policy", "stall"),
    [("last-write", b"HEAD "), ("keep-both", b"GET "), ("keep-both", b"PUT ")],
    ids=["the cloud's stat", "bringing the cloud's copy back", "uploading the local version"],
)
def test_resolving_a_conflict_with_a_stalled_cloud_holds_no_connection(
    make_app, s3_server, policy, stall
):
    """A conflict (the cloud copy changed outside syncapp, and a new local version): while
    its resolution waits on the cloud, users still get the connection."""
    from datetime import timedelta

    from syncapp.cloud.models import CloudCopy
    from syncapp.cloud.replicator import replicate_due
    from syncapp.cloud.targets import open_target
    from syncapp.extensions import db
    from syncapp.timeutil import utcnow
    from tests.peers.s3 import empty_prefix

    port = urlsplit(s3_server.settings["endpoint_url"]).port
    proxy = StallingProxy("127.0.0.1", port, b"no stall yet").start()
    prefix = f"cloud-{uuid.uuid4().hex[:12]}"
    app, alice = s3_through(make_app, s3_server, proxy, prefix)
    try:
        alice.uploaded(b"first", "plan.txt", sync_s3="true")
        assert [r.status for r in replicate_due(app)] == ["completed"]
        alice.uploaded(b"second, here", "plan.txt", sync_s3="true")
        with app.app_context():
            path = db.session.scalar(db.select(CloudCopy.remote_path))
            with open_target("s3", alice.id) as cloud:  # someone else's change, made later
                later = utcnow() + timedelta(hours=1)
                cloud.write(path, io.BytesIO(b"theirs"), size=6, modified=later)
        assert [r.status for r in replicate_due(app)] == ["conflict"]
        [conflict] = alice.get("/api/v1/conflicts").get_json()["conflicts"]
        proxy.method = stall
        answers: list = []
        url = f"/api/v1/conflicts/{conflict['id']}/resolve"
        resolving = threading.Thread(
            target=lambda: answers.append(
                alice.http.post(url, headers=alice.headers, json={"policy": policy})
            ),
            daemon=True,
        )
        resolving.start()
        try:
            assert proxy.stalled.wait(30)  # the resolution is now waiting on the stalled cloud
            listed = alice.get("/api/v1/documents")
            assert listed.status_code == 200, listed.get_json()
        finally:
            proxy.stop()
            resolving.join(60)
        assert not resolving.is_alive()
    finally:
        proxy.stop()
        empty_prefix(s3_server.settings, prefix + "/")


@pytest.mark.parametrize(
    ("route", "stall"),
    [("run", b"PUT "), ("run", b"PROPFIND "), ("status", b"PROPFIND ")],
    ids=["a document's copy", "the NAS check before a run", "the status's NAS check"],
)
def test_the_documents_nas_stalled_holds_no_connection(make_app, webdav_server, route, stall):
    """The NAS (a stored WebDAV remote) hangs on a document's upload or on the stat that
    tells whether it is there."""
    from tests.documents.helpers import uploaded

    port = urlsplit(webdav_server.settings["url"]).port
    proxy = StallingProxy("127.0.0.1", port, b"no stall yet").start()
    folder = f"nas-{uuid.uuid4().hex[:12]}"
    settings = {**through(proxy, webdav_server.settings), "remote_path": folder}
    app = make_app(
        documents={"nas_remote": "nas"},
        transfer={"attempts": 1},
        SQLALCHEMY_ENGINE_OPTIONS=ONE_CONNECTION,
    )
    make_user(app, "root@example.com", role="admin")
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = bearer(make_token(app, "root@example.com"))[
        "Authorization"
    ]
    with app.app_context():
        create_remote("nas", "webdav", settings)
    uploaded(client, make_token(app, "root@example.com"), b"an invoice", "invoice.pdf")
    proxy.method = stall
    answers: list = []
    method = client.post if route == "run" else client.get
    syncing = threading.Thread(
        target=lambda: answers.append(method(f"/api/v1/sync/{route}")), daemon=True
    )
    syncing.start()
    try:
        assert proxy.stalled.wait(30)  # the NAS sync is now waiting on the stalled server
        users_get_the_connection(client)
    finally:
        proxy.stop()
        syncing.join(60)
    assert not syncing.is_alive()
    [answer] = answers
    assert answer.status_code in (200, 400), answer.get_json()


@pytest.mark.parametrize(
    ("action", "stall", "skip"),
    [
        ("upload", b"MOVE ", 0),
        ("upload", b"MOVE ", 1),
        ("download", b"GET ", 0),
        ("delete", b"DELETE ", 0),
    ],
    ids=["staging an upload", "moving an upload in place", "a download", "a deletion"],
)
def test_a_backup_store_stalled_holds_no_connection(make_app, webdav_server, action, stall, skip):
    """The backup store (a stored WebDAV remote) hangs while an upload is staged (a write's
    last step is a MOVE) or moved into place, on a download or on a deletion."""
    import gzip

    port = urlsplit(webdav_server.settings["url"]).port
    proxy = StallingProxy("127.0.0.1", port, b"no stall yet").start()
    folder = f"backups-{uuid.uuid4().hex[:12]}"
    app = make_app(
        backups={"remote": "store", "append_only": False},
        transfer={"attempts": 1},
        SQLALCHEMY_ENGINE_OPTIONS=ONE_CONNECTION,
    )
    make_user(app, "root@example.com", role="admin")
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = bearer(make_token(app, "root@example.com"))[
        "Authorization"
    ]
    with app.app_context():
        create_remote("store", "webdav", {**through(proxy, webdav_server.settings),
                                          "remote_path": folder})  # fmt: skip
    name = "full_2025-01-01_00-00-00.tar.gz"
    body = {"file": (io.BytesIO(gzip.compress(b"backup")), name), "type": "FULL",
            "profile": "document"}  # fmt: skip
    proxy.skip = skip
    if action == "upload":
        proxy.method = stall
        call = lambda: client.post("/upload", data=body, content_type="multipart/form-data")  # noqa: E731
    else:
        stored = client.post("/upload", data=body, content_type="multipart/form-data")
        assert stored.status_code == 201, stored.get_json()
        proxy.method = stall
        if action == "download":
            call = lambda: client.get(f"/download/FULL/{name}").get_data()  # noqa: E731
        else:
            call = lambda: client.delete(f"/backups/FULL/{name}")  # noqa: E731
    answers: list = []
    calling = threading.Thread(target=lambda: answers.append(call()), daemon=True)
    calling.start()
    try:
        assert proxy.stalled.wait(30)  # the store is now waiting on the stalled server
        users_get_the_connection(client)
    finally:
        proxy.stop()
        calling.join(60)
    assert not calling.is_alive()


@pytest.mark.parametrize(
    ("section", "url", "form", "stall"),
    [
        ("documents", "/api/v1/documents", {"type": "invoice"}, b"PUT "),
        ("cloud", "/api/v1/upload", {}, b"PUT "),
        ("cloud", "/api/v1/upload", {}, b"GET "),
    ],
    ids=["uploading a document", "uploading a cloud file", "downloading a cloud file"],
)
def test_a_stalled_feature_store_holds_no_connection(
    make_app, webdav_server, section, url, form, stall
):
    """The feature's store (a stored WebDAV remote) hangs on an upload's bytes (the quota
    checks before and while the body is read hold no connection through it) or on a
    download's."""
    port = urlsplit(webdav_server.settings["url"]).port
    proxy = StallingProxy("127.0.0.1", port, b"no stall yet").start()
    app = make_app(
        **{section: {"remote": "store"}},
        transfer={"attempts": 1},
        SQLALCHEMY_ENGINE_OPTIONS=ONE_CONNECTION,
    )
    make_user(app, "root@example.com", role="admin")
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = bearer(make_token(app, "root@example.com"))[
        "Authorization"
    ]
    folder = f"{section}-{uuid.uuid4().hex[:12]}"
    with app.app_context():
        create_remote("store", "webdav", {**through(proxy, webdav_server.settings),
                                          "remote_path": folder})  # fmt: skip
    body = {"file": (io.BytesIO(b"an invoice"), "invoice.pdf"), **form}
    answers: list = []

    def upload():
        return client.post(url, data=body, content_type="multipart/form-data")

    def call():
        return (
            upload()
            if stall == b"PUT "
            else client.get(f"/api/v1/files/{file_id}/versions/1/download")
        )

    if stall == b"GET ":
        uploaded = upload()
        assert uploaded.status_code == 202, uploaded.get_json()
        file_id = uploaded.get_json()["file_id"]
    proxy.method = stall
    uploading = threading.Thread(target=lambda: answers.append(call()), daemon=True)
    uploading.start()
    try:
        assert proxy.stalled.wait(30)  # the upload is now waiting on the stalled store
        users_get_the_connection(client)
    finally:
        proxy.stop()
        uploading.join(60)
    assert not uploading.is_alive()
