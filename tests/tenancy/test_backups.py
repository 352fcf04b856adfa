"""Issue 16, items 3 and 8 (backups): B against A's archives on the live two-tenant server.

Every test ends by reading A's archives back through A's own token: the bytes and the listing
must be what A stored, whatever B tried.
"""

from __future__ import annotations

import hashlib
import uuid

import requests

from tests.backups.helpers import encoded_name_form, make_archive
from tests.tenancy.conftest import Tenant, Tenants, unique


def backup_name() -> str:
    """A name as backup.sh makes them (timestamp, and a suffix when the second is taken)."""
    return f"full_2026-12-08_02-00-00_{uuid.uuid4().int % 10**9}.tar.gz"


def send(
    tenants: Tenants, who: Tenant | None, name: str, data: bytes, query: str = "", **fields
) -> requests.Response:
    return tenants.call(
        who,
        "POST",
        f"/upload{query}",
        files={"file": (name, data)},
        data={"type": "FULL", **fields},
    )


def listed(tenants: Tenants, who: Tenant, query: str = "") -> dict[str, str]:
    """name -> md5 of every archive `who` lists."""
    answer = tenants.get(who, f"/list{query}")
    assert answer.status_code == 200, answer.text
    return {
        item["name"]: item["md5"] for items in answer.json()["backups"].values() for item in items
    }


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def stored_for_a(tenants: Tenants, profile: str) -> tuple[str, bytes]:
    name, data = backup_name(), make_archive(uuid.uuid4().int % 1000)
    assert send(tenants, tenants.a, name, data, profile=profile).status_code == 201
    return name, data


def a_still_has(tenants: Tenants, name: str, data: bytes) -> None:
    assert listed(tenants, tenants.a)[name] == md5(data)
    download = tenants.get(tenants.a, f"/download/FULL/{name}")
    assert download.status_code == 200 and download.content == data


def test_b_taking_as_predictable_name_first_changes_nothing_for_a(tenants):
    name, profile = backup_name(), unique("a-home")
    forged, genuine = make_archive(101), make_archive(102)
    assert send(tenants, tenants.b, name, forged, profile=profile).status_code == 201
    mine = send(tenants, tenants.a, name, genuine, profile=profile, md5=md5(genuine))
    assert mine.status_code == 201, mine.text
    a_still_has(tenants, name, genuine)
    assert tenants.get(tenants.b, f"/download/FULL/{name}").content == forged


def test_b_cannot_list_verify_stat_or_download_as_archives(tenants):
    profile = unique("a-secret")
    name, data = stored_for_a(tenants, profile)
    b = tenants.b
    for path in ("/list", "/list/FULL", "/stats", f"/list?profile={profile}"):
        answer = tenants.get(b, path)
        assert answer.status_code == 200
        assert name not in answer.text and profile not in answer.text, path
    local = {"local_backups": {"FULL": [{"name": name, "size": len(data), "md5": md5(data)}]}}
    verified = tenants.call(b, "POST", "/verify", json=local)
    assert verified.status_code == 200
    full = verified.json()["verification"]["FULL"]
    assert (
        full["missing_remote"] == [name] and full["synced"] == [] and md5(data) not in verified.text
    )
    hers = tenants.get(b, f"/download/FULL/{name}")
    nobodys = tenants.get(b, f"/download/FULL/{backup_name()}")
    assert hers.status_code == nobodys.status_code == 404
    assert hers.json()["code"] == nobodys.json()["code"] == "backup_not_found"
    assert tenants.call(b, "DELETE", f"/backups/FULL/{name}").status_code == 403
    a_still_has(tenants, name, data)


def test_bs_token_cannot_reach_as_namespace_through_owner(tenants):
    name, data = stored_for_a(tenants, unique("a-owner"))
    b, a = tenants.b, tenants.a
    for ref in (str(a.id), a.email, a.email.upper()):
        for method, path, kwargs in [
            ("GET", f"/list?owner={ref}", {}),
            ("GET", f"/list/FULL?owner={ref}", {}),
            ("GET", f"/stats?owner={ref}", {}),
            ("GET", f"/download/FULL/{name}?owner={ref}", {}),
            ("POST", f"/verify?owner={ref}", {"json": {"local_backups": {"FULL": []}}}),
        ]:
            answer = tenants.call(b, method, path, **kwargs)
            assert answer.status_code == 404, (method, path)
            assert answer.json()["code"] == "owner_not_found" and name not in answer.text
        overwrite = send(tenants, b, name, make_archive(103), query=f"?owner={ref}")
        assert overwrite.status_code == 404
    # the same answer as for an account that does not exist
    nobody = tenants.get(b, "/list?owner=nobody-" + uuid.uuid4().hex + "@example.com")
    assert nobody.status_code == 404 and nobody.json()["code"] == "owner_not_found"
    a_still_has(tenants, name, data)


def test_an_administrator_names_the_owner_to_see_their_archives(tenants):
    name, data = stored_for_a(tenants, unique("a-admin"))
    admin = tenants.admin
    assert name not in listed(tenants, admin)  # the administrator's own namespace
    assert listed(tenants, admin, f"?owner={tenants.a.email}")[name] == md5(data)
    download = tenants.get(admin, f"/download/FULL/{name}?owner={tenants.a.id}")
    assert download.status_code == 200 and download.content == data
    stats = tenants.get(admin, f"/stats?owner={tenants.a.id}").json()
    assert stats["total"]["files"] >= 1


def test_a_profile_bound_token_writes_and_lists_its_profile_only(tenants):
    other_profile, own_profile = unique("a-db"), unique("a-web")
    other_name, other_data = stored_for_a(tenants, other_profile)
    created = tenants.call(
        tenants.a,
        "POST",
        "/api/v1/tokens",
        json={"name": "web machine", "scopes": [f"backups:{own_profile}"]},
    )
    assert created.status_code == 201 and created.json()["scopes"] == [f"backups:{own_profile}"]
    machine = Tenant(tenants.a.email, "", created.json()["token"], tenants.a.id)

    refused = send(tenants, machine, backup_name(), make_archive(104), profile=other_profile)
    assert refused.status_code == 403 and refused.json()["code"] == "token_scope"
    own_name, own_data = backup_name(), make_archive(105)
    assert send(tenants, machine, own_name, own_data, profile=own_profile).status_code == 201
    assert listed(tenants, machine) == {own_name: md5(own_data)}
    assert tenants.get(machine, f"/download/FULL/{other_name}").status_code == 404
    assert tenants.get(machine, "/api/v1/tokens").status_code == 403  # nor other features
    a_still_has(tenants, other_name, other_data)
    a_still_has(tenants, own_name, own_data)


def test_names_ending_in_a_newline_are_refused(tenants):
    """Defect 8 (backups): `$` let a final newline through; such names were stored and then
    answered 500 on download."""
    name, data = stored_for_a(tenants, unique("a-newline"))
    before = listed(tenants, tenants.a)
    for bad in (name + "\n", backup_name() + "\n"):
        body, content_type = encoded_name_form(bad, make_archive(106), type="FULL")
        answer = tenants.call(
            tenants.a, "POST", "/upload", data=body, headers={"Content-Type": content_type}
        )
        assert answer.status_code == 400 and answer.json()["code"] == "invalid_name"
    download = tenants.get(tenants.a, f"/download/FULL/{name}%0A")
    assert download.status_code == 400 and download.json()["code"] == "invalid_name"
    assert listed(tenants, tenants.a) == before
    a_still_has(tenants, name, data)
