"""Cordiax devices are per user (issue 16, items 4, 8 and 11), against the live two-tenant server
with a real python-socketio client behaving as Cordiax does (tests/cordiax/client.py).

B pushing as a device named like A's makes B's own device: A's snapshots stay as they were, and
nobody reading A's device (A, or the administrator naming A) is ever served B's bytes.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.cordiax.client import CordiaxLikeClient
from tests.cordiax.payloads import (
    encrypted_database,
    one_mebibyte_bomb,
    sha256,
    small_members_bomb,
)
from tests.live import PROJECT
from tests.tenancy.conftest import Tenant, Tenants, unique

pytestmark = pytest.mark.e2e

DEVICES = "/api/v1/cordiax/devices"


def connect(tenants: Tenants, token: str, payload: bytes, device: str | None):
    query = f"?token={token}" + (f"&device={quote(device)}" if device is not None else "")
    return CordiaxLikeClient(payload).connect(tenants.url + query)


def push(tenants: Tenants, who: Tenant | str, payload: bytes, device: str | None) -> dict:
    """Push as Cordiax does (on connect and again on sync_request: the two pushes race, one
    stores, the other finds it stored); the ack of the one that stored."""
    token = who if isinstance(who, str) else who.token
    client = connect(tenants, token, payload, device)
    try:
        acks = [client.next_ack(), client.next_ack()]
    finally:
        client.close()
    assert [a["sha256"] for a in acks] == [sha256(payload)] * 2
    assert sorted(a["created"] for a in acks) == [False, True]
    return next(a for a in acks if a["created"])


def refused(tenants: Tenants, token: str, payload: bytes, device: str | None) -> dict:
    client = connect(tenants, token, payload, device)
    try:
        return client.next_error()
    finally:
        client.close()


def stored_folder(tenants: Tenants, who: Tenant, device: str) -> Path:
    return Path(tenants.server.env["SYNCAPP_INSTANCE_PATH"]) / "cordiax" / str(who.id) / device


def download(tenants: Tenants, who: Tenant, device: str, owner: str | None = None):
    query = f"?owner={quote(owner)}" if owner else ""
    return tenants.get(who, f"{DEVICES}/{device}/latest/download{query}")


def scoped_token(tenants: Tenants, who: Tenant, scopes: list[str]) -> str:
    """A token of `who` bound to `scopes`, made in the server's own database."""
    code = (
        "import sys\n"
        "from app import app\n"
        "from tests.cordiax.tokens import scoped_token\n"
        "print(scoped_token(app, sys.argv[1], sys.argv[2:]))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, who.email, *scopes],
        cwd=PROJECT,
        env={**os.environ, **tenants.server.env},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return result.stdout.strip().splitlines()[-1]


def test_b_pushing_as_as_device_never_reaches_a_or_the_admin(tenants):
    device = unique("a-pc")
    genuine = encrypted_database(8192, seed=1)
    forged = encrypted_database(8192, seed=2)
    push(tenants, tenants.a, genuine, device)
    as_seen_by_a = tenants.get(tenants.a, f"{DEVICES}/{device}/snapshots").json()

    push(tenants, tenants.b, forged, device)  # B's own device of that name, nothing more

    assert tenants.get(tenants.a, f"{DEVICES}/{device}/snapshots").json() == as_seen_by_a
    assert download(tenants, tenants.a, device).content == genuine
    # the administrator has no device of that name: without ?owner= it is their own namespace
    assert download(tenants, tenants.admin, device).status_code == 404
    for owner in (tenants.a.email, str(tenants.a.id)):
        answer = download(tenants, tenants.admin, device, owner=owner)
        assert answer.status_code == 200 and answer.content == genuine, owner
    assert download(tenants, tenants.admin, device, owner=tenants.b.email).content == forged

    # ... and once the administrator has one, it is theirs that answers
    own = encrypted_database(8192, seed=3)
    push(tenants, tenants.admin, own, device)
    assert download(tenants, tenants.admin, device).content == own
    assert download(tenants, tenants.admin, device, owner=tenants.a.email).content == genuine
    listed = tenants.get(tenants.admin, DEVICES).json()
    assert sorted(d["owner"] for d in listed if d["device"] == device) == sorted(
        [tenants.admin.email, tenants.a.email, tenants.b.email]
    )


def test_b_cannot_list_read_or_download_as_devices(tenants):
    device, missing = unique("a-laptop"), unique("a-laptop")
    ack = push(tenants, tenants.a, encrypted_database(4096, seed=4), device)

    listed = tenants.get(tenants.b, DEVICES)
    assert listed.status_code == 200 and device not in listed.text

    def attempts(name: str) -> list[str]:
        return [
            f"{DEVICES}/{name}/snapshots",
            f"{DEVICES}/{name}/latest/download",
            f"{DEVICES}/{name}/snapshots/{ack['version']}/download",
        ]

    for path, control in zip(attempts(device), attempts(missing), strict=True):
        for suffix in ("", f"?owner={tenants.a.id}", f"?owner={quote(tenants.a.email)}"):
            answer = tenants.get(tenants.b, path + suffix)
            nothing = tenants.get(tenants.b, control + suffix)
            # exactly the answer a device that exists nowhere gets
            assert answer.status_code == nothing.status_code == 404, path + suffix
            same_text = nothing.json()["message"].replace(missing, device)
            assert answer.json() == {**nothing.json(), "message": same_text, "detail": same_text}
    assert tenants.get(tenants.b, f"{DEVICES}?owner={tenants.a.id}").status_code == 404
    assert download(tenants, tenants.a, device).status_code == 200


def test_a_device_name_ending_in_a_newline_is_refused_at_connect_and_in_routes(tenants):
    device = unique("nl-pc")
    error = refused(tenants, tenants.a.token, encrypted_database(2048, seed=5), device + "\n")
    assert error["error"] == "invalid_device"
    assert not stored_folder(tenants, tenants.a, device + "\n").exists()
    assert not stored_folder(tenants, tenants.a, device).exists()
    for path in (
        f"{DEVICES}/{device}%0A/snapshots",
        f"{DEVICES}/{device}%0A/latest/download",
        f"{DEVICES}/{device}%0A/snapshots/v1/download",
    ):
        answer = tenants.get(tenants.a, path)
        assert answer.status_code == 400 and answer.json()["error"] == "invalid_device", path


@pytest.mark.parametrize(
    "bundle",
    [small_members_bomb(), one_mebibyte_bomb()],
    ids=["many-small-members", "one-mebibyte-member"],
)
def test_zip_bombs_of_small_members_are_refused_and_nothing_is_written(tenants, bundle):
    device = unique("bomb")
    error = refused(tenants, tenants.a.token, bundle, device)
    assert error["error"] == "zip_bomb"
    assert not stored_folder(tenants, tenants.a, device).exists()
    assert tenants.get(tenants.a, f"{DEVICES}/{device}/snapshots").status_code == 404


def test_a_token_bound_to_a_device_pushes_and_reads_only_as_it(tenants):
    bound, other = unique("bound-pc"), unique("other-pc")
    push(tenants, tenants.a, encrypted_database(2048, seed=6), other)
    token = scoped_token(tenants, tenants.a, [f"cordiax:{bound}"])

    error = refused(tenants, token, encrypted_database(2048, seed=7), other)
    assert error["error"] == "token_scope"
    assert len(tenants.get(tenants.a, f"{DEVICES}/{other}/snapshots").json()) == 1

    # without a device in the URL the token pushes as the one it is bound to
    database = encrypted_database(2048, seed=8)
    push(tenants, token, database, None)
    assert download(tenants, tenants.a, bound).content == database

    headers = {"Authorization": f"Bearer {token}"}
    listed = tenants.get(None, DEVICES, headers=headers).json()
    assert [d["device"] for d in listed] == [bound]
    answer = tenants.get(None, f"{DEVICES}/{other}/latest/download", headers=headers)
    assert answer.status_code == 403 and answer.json()["error"] == "token_scope"
