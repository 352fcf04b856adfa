"""An app replicating to all three clouds on their real servers: Azurite, moto's S3 server and
the Drive fake (a user with a connected Google account). Each test writes under a folder of its
own (`cloud.folder`), in a fresh Azure container, so tests never see each other's objects."""

from __future__ import annotations

import hashlib
import io
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from syncapp.cloud.models import CloudCopy, CloudFile, CloudJob, CloudVersion, GoogleAccount
from syncapp.cloud.replicator import CopyResult, replicate_due
from syncapp.cloud.targets import open_target
from syncapp.cloud.wiring import store_remote
from syncapp.extensions import db
from syncapp.remotes.catalog import create_remote
from syncapp.security import encrypt_secret
from tests.cloud.conftest import CloudUser
from tests.peers.azure import drop_container, new_container
from tests.peers.gdrive import google_settings
from tests.peers.s3 import empty_prefix
from tests.streams import md5_of_stream

MiB = 1024 * 1024
FLAGS = {"google": "sync_google", "azure": "sync_azure", "s3": "sync_s3"}


def md5_of(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def read_md5(remote, path: str) -> str:
    with remote.open_read(path) as reader:
        return md5_of_stream(reader)


class Clouds:
    """The app, its user (ana, with a Drive), and ways to look at both sides of a copy."""

    def __init__(self, app, user: CloudUser) -> None:
        self.app = app
        self.user = user

    def upload(self, data: bytes, name: str, *targets: str) -> dict:
        flags = {FLAGS[t]: "true" for t in targets}
        return self.user.uploaded(data, name, **flags)

    def replicate(self, **options: Any) -> list[CopyResult]:
        return replicate_due(self.app, **options)

    def copy(self, file_id: int, target: str) -> CloudCopy:
        """The copy row, loaded and detached: its attributes stay readable."""
        with self.app.app_context():
            copy = db.session.scalar(
                db.select(CloudCopy).where(CloudCopy.file_id == file_id, CloudCopy.target == target)
            )
            db.session.expunge(copy)
            return copy

    def job(self, job_id: str) -> dict:
        return self.user.get(f"/api/v1/status/{job_id}").get_json()

    def cloud_md5(self, file_id: int, target: str) -> str:
        """The MD5 of the bytes in the cloud, read back through the cloud's Remote."""
        path = self.copy(file_id, target).remote_path
        with self.app.app_context(), open_target(target, self.user.id) as remote:
            return read_md5(remote, path)

    def write_in_cloud(self, file_id: int, target: str, data: bytes, modified: datetime) -> None:
        """Someone changes the cloud copy outside syncapp."""
        path = self.copy(file_id, target).remote_path
        with self.app.app_context(), open_target(target, self.user.id) as remote:
            remote.write(path, io.BytesIO(data), size=len(data), modified=modified)

    def versions(self, file_id: int) -> list[CloudVersion]:
        with self.app.app_context():
            found = list(
                db.session.scalars(
                    db.select(CloudVersion)
                    .where(CloudVersion.file_id == file_id)
                    .order_by(CloudVersion.number)
                )
            )
            db.session.expunge_all()
            return found

    def local_md5(self, file_id: int, number: int | None = None) -> str:
        """The MD5 of a version's bytes in the local store (the current version by default)."""
        with self.app.app_context():
            file = db.session.get(CloudFile, file_id)
            number = number or file.current_version
            version = db.session.scalar(
                db.select(CloudVersion).where(
                    CloudVersion.file_id == file_id, CloudVersion.number == number
                )
            )
            return read_md5(store_remote(), version.stored_path)

    def current_version(self, file_id: int) -> int:
        with self.app.app_context():
            return db.session.get(CloudFile, file_id).current_version

    def job_row(self, job_id: str) -> CloudJob:
        with self.app.app_context():
            job = db.session.get(CloudJob, job_id)
            db.session.expunge(job)
            return job


# Imported by the test modules under these names (pytest knows them by `name`).
@pytest.fixture(name="make_clouds")
def make_clouds_fixture(make_app, s3_server, azure_server, gdrive_server) -> Iterator:
    """make_clouds(**cloud_settings) -> Clouds; the clouds' settings are this test's own."""
    folder = f"t-{uuid.uuid4().hex[:12]}"
    containers: list[str] = []

    def factory(**cloud: Any) -> Clouds:
        container = new_container(azure_server.settings)
        containers.append(container)
        app = make_app(
            cloud={
                "azure_remote": "cloud-azure",
                "s3_remote": "cloud-s3",
                "folder": folder,
                **cloud,
            },
            google=google_settings(gdrive_server),
            transfer={"attempts": 2, "base_delay": 0.01, "max_delay": 0.05},
        )
        with app.app_context():
            # Small blocks and parts: a file of a few MiB reports its progress several times.
            create_remote(
                "cloud-azure",
                "azure",
                {**azure_server.settings, "container": container, "block_size": MiB},
            )
            create_remote(
                "cloud-s3",
                "s3",
                {
                    **s3_server.settings,
                    "multipart_threshold": 5 * MiB,
                    "part_size": 5 * MiB,
                    "max_attempts": 1,  # a stopped server fails fast; syncapp does the retrying
                },
            )
        user = CloudUser(app, "ana@example.com")
        with app.app_context():
            token = encrypt_secret(gdrive_server.settings["refresh_token"])
            db.session.add(GoogleAccount(user_id=user.id, refresh_token_encrypted=token))
            db.session.commit()
        return Clouds(app, user)

    yield factory
    if s3_server.process.running:
        empty_prefix(s3_server.settings, folder + "/")
    for container in containers:
        if azure_server.process.running:
            drop_container(azure_server.settings, container)


@pytest.fixture(name="clouds")
def clouds_fixture(make_clouds) -> Clouds:
    return make_clouds()
