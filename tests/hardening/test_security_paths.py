"""Security review, paths: every place that joins a user-given name to a folder, fed traversal
names; and the limits of Cordiax ZIP extraction.

Where user-given names meet the file system or a remote:
  backups     upload file name, profile; /download and /backups/<type>/<filename>
  documents   upload file name (the store's name is the id; the NAS copy uses the file name)
  cloud       upload file name (on disk: <owner>/<file id>/v<n>-<safe name>; in the clouds:
              <folder>/<owner>/<name>)
  cordiax     device name (Socket.IO push and the API's paths), ZIP member names, poller
              folder and file name
  syncs       source and destination folders (sync.allowed_roots), a remote folder
  storage     every remote path goes through storage.base.clean_path
  static      /static/<path>
Nothing here may read or write outside its root: each test checks the answer and that no file
appeared anywhere else under the test's folder.
"""

from __future__ import annotations

import io
import os
import struct
import zipfile
from pathlib import Path

import pytest

from syncapp.cordiax.snapshots import Limits, SnapshotRefused, SnapshotStore
from syncapp.extensions import db
from syncapp.storage import open_remote
from syncapp.storage.base import RemoteError, clean_path
from tests.backups.helpers import make_archive
from tests.conftest import bearer, make_token, make_user
from tests.cordiax.payloads import zip_bundle
from tests.hardening.forms import upload_named
from tests.syncs.helpers import grant_folders

TRAVERSALS = [
    "../evil",
    "../../evil",
    "..\\..\\evil",
    "/etc/evil",
    "a/../../evil",
    "....//....//evil",
    "%2e%2e%2fevil",
    "evil\x00.txt",
]


def files_under(root: Path) -> set[str]:
    if not root.exists():
        return set()
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def evil_files(root: Path) -> list[str]:
    return sorted(name for name in files_under(root) if "evil" in name.lower())


@pytest.mark.parametrize("name", TRAVERSALS)
def test_backup_names_with_folders_are_refused(tmp_path, client, token, name):
    response = upload_named(
        client, "/upload", token, f"{name}.tar.gz", make_archive(1), type="FULL", profile="p"
    )
    assert response.status_code == 400
    assert response.get_json()["code"] in ("invalid_name", "no_file")  # seed 003: code
    assert evil_files(tmp_path) == []


@pytest.mark.parametrize("profile", ["../evil", "a/b", "..", "evil\\x"])
def test_backup_profiles_with_folders_are_refused(tmp_path, client, token, profile):
    response = upload_named(
        client,
        "/upload",
        token,
        "full_2025-01-01_00-00-00.tar.gz",
        make_archive(1),
        type="FULL",
        profile=profile,
    )
    assert response.status_code == 400 and response.get_json()["code"] == "invalid_profile"
    assert not any("evil" in name or name.startswith("..") for name in files_under(tmp_path))


@pytest.mark.parametrize(
    "path",
    [
        "/download/FULL/..%2f..%2ftest.db",
        "/download/FULL/../../test.db",
        "/download/..%2f..%2f/test.db",
        "/download/FULL/%2e%2e%2f%2e%2e%2finstance%2fsecret_key",
        "/download/FULL/..\\..\\test.db",
    ],
)
def test_backup_downloads_cannot_leave_the_archive_folder(app, client, admin_token, path):
    response = client.get(path, headers=bearer(admin_token))
    assert response.status_code in (400, 404), response.status_code
    assert b"SQLite format" not in response.data
    deleted = client.delete(path.replace("/download/", "/backups/"), headers=bearer(admin_token))
    assert deleted.status_code in (400, 404, 405)


@pytest.mark.parametrize("name", TRAVERSALS)
def test_document_and_cloud_uploads_keep_only_the_file_name(tmp_path, app, client, token, name):
    for path, fields in (("/api/v1/documents", {"type": "invoice"}), ("/api/v1/upload", {})):
        response = upload_named(client, path, token, name, b"content", **fields)
        if response.status_code >= 400:  # a name that is nothing but folders or NUL
            assert response.status_code == 400, response.get_json()
            continue
        body = response.get_json()
        assert "/" not in body["filename"] and "\\" not in body["filename"]
        assert ".." not in body["filename"].split("/")
    instance = Path(app.instance_path)
    outside = [
        name for name in evil_files(tmp_path) if not (tmp_path / name).is_relative_to(instance)
    ]
    assert outside == []
    stray = [
        name
        for name in evil_files(instance)
        if not name.startswith(("documents/", "cloud/")) or "/../" in f"/{name}"
    ]
    assert stray == []


@pytest.mark.parametrize("device", ["..", "..%2fother", "%2e%2e", "a%2f..%2f..%2fb", "x%00"])
def test_cordiax_device_paths_do_not_traverse(app, client, token, device):
    for path in (
        f"/api/v1/cordiax/devices/{device}/snapshots",
        f"/api/v1/cordiax/devices/{device}/latest/download",
        f"/api/v1/cordiax/devices/{device}/snapshots/v1/download",
    ):
        response = client.get(path, headers=bearer(token))
        assert response.status_code in (400, 404), (path, response.status_code)


@pytest.mark.parametrize("device", ["../other", "..", "a/b", "a\\b", "x\x00", ""])
def test_cordiax_device_names_are_checked_before_any_write(app, tmp_path, device):
    with app.app_context():
        store = SnapshotStore(open_remote("local", root=str(tmp_path / "snap")), db.session)
        with pytest.raises(SnapshotRefused) as refused:
            store.store(1, device, b"\x00" * 100)
    assert refused.value.code == "invalid_device"
    assert files_under(tmp_path / "snap") == set()


@pytest.mark.parametrize(
    ("field", "value"),
    [("path", "../../etc"), ("path", "a/../../b"), ("filename", "../evil.db")],
)
def test_poller_folders_and_file_names_do_not_traverse(app, client, admin_token, field, value):
    headers = bearer(admin_token)
    remote = client.post(
        "/api/v1/remotes",
        headers=headers,
        json={
            "name": "share",
            "kind": "webdav",
            "settings": {"url": "http://127.0.0.1:9/", "username": "u", "password": "p"},
        },
    ).get_json()
    response = client.post(
        "/api/v1/cordiax/pollers",
        headers=headers,
        json={"name": "p", "remote_id": remote["id"], field: value},
    )
    assert response.status_code == 400, response.get_json()


@pytest.fixture
def sync_roots(tmp_path) -> Path:
    root = tmp_path / "allowed"
    (root / "src").mkdir(parents=True)
    (root / "dst").mkdir()
    (tmp_path / "outside").mkdir()
    os.symlink(tmp_path / "outside", root / "link-out")
    return root


@pytest.mark.parametrize(
    ("source", "destination"),
    [
        ("{root}/../outside", "{root}/dst"),
        ("{root}/src", "{root}/../outside"),
        ("{root}/link-out", "{root}/dst"),  # a symlink that leads outside the root
        ("{root}/src", "{root}/link-out/x"),
        ("/etc", "{root}/dst"),
        ("src", "{root}/dst"),  # relative
        ("{root}/src", "{root}/src/inner"),  # destination inside the source
        ("{root}/src\x00", "{root}/dst"),
    ],
)
def test_sync_job_folders_stay_inside_the_allowed_roots(make_app, sync_roots, source, destination):
    app = make_app(sync={"allowed_roots": [str(sync_roots)]})
    make_user(app, "ana@example.com")
    grant_folders(app, "ana@example.com", sync_roots)  # a shared root is for admins only
    headers = bearer(make_token(app, "ana@example.com"))
    body = {
        "name": "j",
        "source_path": source.format(root=sync_roots),
        "destination_path": destination.format(root=sync_roots),
    }
    response = app.test_client().post("/api/v1/syncs", headers=headers, json=body)
    outside_the_roots = (403, "folder_not_allowed")  # the answer for /etc, existing or not
    assert (response.status_code, response.get_json()["error"]) in (
        (400, "invalid_path"),
        (400, "validation_error"),
        outside_the_roots,
    ), response.get_json()


@pytest.mark.parametrize("folder", ["../up", "a/../../b", "..\\x"])
def test_a_sync_jobs_remote_folder_does_not_traverse(make_app, sync_roots, folder):
    app = make_app(sync={"allowed_roots": [str(sync_roots)]})
    make_user(app, "root@example.com", role="admin")
    headers = bearer(make_token(app, "root@example.com"))
    client = app.test_client()
    client.post(
        "/api/v1/remotes",
        headers=headers,
        json={"name": "box", "kind": "local", "settings": {"root": str(sync_roots / "dst")}},
    )
    body = {
        "name": "j",
        "source_path": str(sync_roots / "src"),
        "destination_path": folder,
        "destination_remote": "box",
    }
    response = client.post("/api/v1/syncs", headers=headers, json=body)
    assert response.status_code == 400 and response.get_json()["error"] == "invalid_path"


@pytest.mark.parametrize("path", ["../x", "a/../../x", "..\\x", "a/..", "x\x00y"])
def test_the_storage_layer_refuses_paths_leaving_a_remote(tmp_path, path):
    with pytest.raises(RemoteError):
        clean_path(path)
    remote = open_remote("local", root=str(tmp_path / "remote"))
    with pytest.raises(RemoteError):
        remote.write(f"folder/{path}", io.BytesIO(b"x"), size=1)
    assert evil_files(tmp_path) == [] and not (tmp_path / "x").exists()


def test_leading_slashes_stay_inside_the_remote(tmp_path):
    assert clean_path("/etc/passwd") == "etc/passwd"
    remote = open_remote("local", root=str(tmp_path / "remote"))
    remote.write("/evil.txt", io.BytesIO(b"x"), size=1)
    assert evil_files(tmp_path) == ["remote/evil.txt"]


@pytest.mark.parametrize(
    "path",
    ["/static/../syncapp/config.py", "/static/..%2fsyncapp%2fconfig.py", "/static/%2e%2e/app.py"],
)
def test_static_files_stay_in_static(client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert b"import" not in response.data


# --- ZIP extraction limits (Cordiax bundles) -------------------------------------------------


def test_a_bundle_expanding_beyond_the_total_limit_is_refused(app, tmp_path):
    bundle = zip_bundle({f"pdfs/{n}.pdf": bytes(600) for n in range(4)})
    with app.app_context():
        store = SnapshotStore(
            open_remote("local", root=str(tmp_path / "z")),
            db.session,
            Limits(zip_max_unpacked=2000),
        )
        with pytest.raises(SnapshotRefused) as refused:
            store.store(1, "pc", bundle)
    assert refused.value.code == "zip_too_large"
    assert files_under(tmp_path / "z") == set()


def lying_bundle(name: str) -> bytes:
    """A member whose headers claim 1,000 bytes while it inflates to 2 MiB (a bomb in disguise:
    the ratio check trusts the header, extraction must not)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bundle:
        bundle.writestr(name, bytes(2 * 1024 * 1024))
    data = bytearray(buffer.getvalue())
    struct.pack_into("<I", data, 22, 1000)  # local file header: uncompressed size
    central = data.rfind(b"PK\x01\x02")
    struct.pack_into("<I", data, central + 24, 1000)  # central directory: uncompressed size
    return bytes(data)


# cordiax.db is peeked at before extraction (is it encrypted?); other members only on extraction
@pytest.mark.parametrize("member", ["cordiax.db", "pdfs/big.pdf"])
def test_a_member_larger_than_its_header_says_is_refused_and_nothing_stays(app, tmp_path, member):
    with app.app_context():
        store = SnapshotStore(open_remote("local", root=str(tmp_path / "z")), db.session)
        with pytest.raises(SnapshotRefused) as refused:
            store.store(1, "pc", lying_bundle(member))
        assert store.versions(1, "pc") == []
    assert refused.value.code in ("zip_bomb", "bad_zip")
    leftovers = files_under(tmp_path / "z")
    assert not any(name.endswith(member) for name in leftovers), leftovers
