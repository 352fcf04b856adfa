"""Fixtures for the cloud files API: an app with no cloud set up, users talking to it, and
hand-built multipart bodies (the test client always puts form fields before files)."""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from syncapp.extensions import db
from tests.conftest import bearer, make_token, make_user

BOUNDARY = "syncapp-test-boundary"
MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"


def multipart(*parts: tuple) -> bytes:
    """A form body from (name, value) fields and (name, filename, bytes) files, in this order."""
    body = b""
    for part in parts:
        if len(part) == 3:
            name, filename, data = part
            head = (
                f'Content-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                "Content-Type: application/octet-stream\r\n"
            )
        else:
            (name, value), filename = part, None
            head, data = f'Content-Disposition: form-data; name="{name}"\r\n', value.encode()
        body += f"--{BOUNDARY}\r\n{head}\r\n".encode() + data + b"\r\n"
    return body + f"--{BOUNDARY}--\r\n".encode()


def store_files(app) -> list[str]:
    """Every file in the cloud file store on disk, staging debris included."""
    root = Path(app.instance_path) / "cloud"
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


class CloudUser:
    """One user with an API token, calling the app through the test client."""

    def __init__(self, app, email: str, role: str = "user") -> None:
        self.app = app
        self.id = make_user(app, email, role=role)
        self.headers = bearer(make_token(app, email))
        self.http = app.test_client()

    def upload(self, data: bytes, name: str, **flags: str):
        form = {"file": (io.BytesIO(data), name), **flags}
        return self.http.post(
            "/api/v1/upload", headers=self.headers, data=form, content_type="multipart/form-data"
        )

    def uploaded(self, data: bytes, name: str, **flags: str) -> dict:
        response = self.upload(data, name, **flags)
        assert response.status_code == 202, response.get_json()
        return response.get_json()

    def post_body(self, body: bytes, content_type: str = MULTIPART):
        return self.http.post(
            "/api/v1/upload", headers=self.headers, data=body, content_type=content_type
        )

    def get(self, path: str, **query):
        return self.http.get(path, headers=self.headers, query_string=query)

    def delete(self, path: str, **query):
        return self.http.delete(path, headers=self.headers, query_string=query)


@pytest.fixture
def make_cloud_app(make_app):
    """An app whose `cloud` section has these settings: make_cloud_app(keep_versions=2)."""

    def factory(**cloud):
        return make_app(cloud=cloud)

    return factory


@pytest.fixture
def cloud_app(make_cloud_app):
    return make_cloud_app()


@pytest.fixture
def cloud_client(cloud_app) -> CloudUser:
    return CloudUser(cloud_app, "alice@example.com")


@pytest.fixture
def cloud_user(cloud_app):
    """More users of the same app: cloud_user("bob@example.com", role="admin")."""
    return lambda email, role="user": CloudUser(cloud_app, email, role)


def place_copy(app, owner_id: int, file_id: int, target: str, data: bytes) -> str:
    """What a finished replication leaves: the bytes in the cloud and a completed copy row
    (replicating is not this suite's subject). Returns the copy's path in the cloud."""
    from syncapp.cloud.models import CloudCopy, CloudFile
    from syncapp.cloud.targets import open_target, remote_path
    from syncapp.timeutil import utcnow

    with app.app_context():
        file = db.session.get(CloudFile, file_id)
        path = remote_path(target, owner_id, file.filename)
        with open_target(target, owner_id) as cloud:
            entry = cloud.write(path, io.BytesIO(data), size=len(data))
        number = file.current_version
        db.session.add(
            CloudCopy(
                file_id=file_id, target=target, remote_path=path, status="completed",
                wanted_version=number, synced_version=number, synced_md5=entry.md5,
                synced_etag=entry.etag, synced_size=len(data), synced_at=utcnow(),
            )
        )  # fmt: skip
        db.session.commit()
    return path


def stored_remote(app, name: str, kind: str, settings: dict) -> None:
    from syncapp.remotes.catalog import create_remote

    with app.app_context():
        create_remote(name, kind, settings)


@pytest.fixture
def s3_cloud(make_cloud_app, s3_server) -> Iterator:
    """An app whose s3 target is a stored remote on the moto server, under a fresh prefix."""
    from tests.peers.s3 import empty_prefix

    prefix = f"cloud-{uuid.uuid4().hex[:12]}"
    app = make_cloud_app(s3_remote="cloud-s3", download_url_ttl=120)
    stored_remote(app, "cloud-s3", "s3", {**s3_server.settings, "prefix": prefix})
    yield app
    empty_prefix(s3_server.settings, prefix + "/")


@pytest.fixture
def azure_cloud(make_cloud_app, azure_server) -> Iterator:
    """An app whose azure target is a stored remote on Azurite, in a fresh container."""
    from tests.peers.azure import drop_container, new_container

    container = new_container(azure_server.settings)
    app = make_cloud_app(azure_remote="cloud-azure")
    stored_remote(app, "cloud-azure", "azure", {**azure_server.settings, "container": container})
    yield app
    drop_container(azure_server.settings, container)


@pytest.fixture
def drive_cloud(make_app, gdrive_server):
    """An app talking to the Drive fake, where alice's Drive is connected (a fresh folder)."""
    from syncapp.cloud.models import GoogleAccount
    from syncapp.security import encrypt_secret
    from tests.peers.gdrive import google_settings, make_drive_folder

    app = make_app(google=google_settings(gdrive_server), cloud={"download_url_ttl": 60})
    alice = CloudUser(app, "alice@example.com")
    with app.app_context():
        token = encrypt_secret(gdrive_server.settings["refresh_token"])
        folder = make_drive_folder(gdrive_server)
        db.session.add(
            GoogleAccount(user_id=alice.id, refresh_token_encrypted=token, folder_id=folder)
        )
        db.session.commit()
    return alice
