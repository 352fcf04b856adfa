"""The dashboard at / (and /dashboard), GET /api/v1/dashboard, and the recorded /verify results."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, date, datetime
from html import unescape

import pytest

from syncapp.auth.accounts import find_user
from syncapp.backups.models import BackupArchive, BackupVerification
from syncapp.backups.verifications import last_verifications
from syncapp.cloud.models import (
    TARGETS,
    CloudConflict,
    CloudCopy,
    CloudFile,
    CloudJob,
    CloudVersion,
)
from syncapp.cordiax.models import CordiaxSnapshot
from syncapp.documents.models import Document
from syncapp.events import subscribe, unsubscribe
from syncapp.extensions import db
from syncapp.syncs.models import SyncJob, SyncRun
from syncapp.web.dashboard import summary
from syncapp.web.dashboard_charts import cumulative_per_day, per_hour
from tests.backups.helpers import make_archive, md5, upload
from tests.conftest import bearer, make_token, make_user
from tests.cordiax.tokens import scoped_token
from tests.web.test_pages import HTML, sign_in

NOW = datetime(2026, 3, 31, 12, 30, tzinfo=UTC)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def add(app, *rows) -> None:
    with app.app_context():
        db.session.add_all(rows)
        db.session.commit()


def archive(
    owner_id: int, kind: str, name: str, profile: str, size: int, when: datetime, base=None
):
    return BackupArchive(
        owner_id=owner_id, path=f"users/{owner_id}/{kind}/{name}", type=kind, name=name,
        profile=profile, size=size, md5="0" * 32, sha256="0" * 64, uploaded_at=when,
        base_archive=base,
    )  # fmt: skip


def snapshot(user_id: int, device: str, size: int, when: datetime) -> CordiaxSnapshot:
    version = when.strftime("%Y%m%dT%H%M%SZ") + "_" + uuid.uuid4().hex[:8]
    return CordiaxSnapshot(
        user_id=user_id, device=device, version=version, path=f"{device}/{version}.db",
        sha256=uuid.uuid4().hex * 2,  # distinct: one row per content and device
        size=size, kind="encrypted", encrypted=True, received_at=when,
    )  # fmt: skip


def document(owner_id: int, name: str, size: int, when: datetime, **state) -> Document:
    return Document(
        owner_id=owner_id, type="invoice", document_date=date(2026, 1, 15), filename=name,
        stored_path=f"{owner_id}/{name}", size=size, md5="0" * 32, uploaded_at=when, **state,
    )  # fmt: skip


def sync_job(app, owner_id: int, name: str, state: str, runs=()) -> int:
    with app.app_context():
        job = SyncJob(
            owner_id=owner_id, name=name, source_path="/src", destination_path="/dst",
            state=state, last_error="source folder gone" if state == "error" else None,
        )  # fmt: skip
        db.session.add(job)
        db.session.flush()
        for finished, copied in runs:
            db.session.add(
                SyncRun(
                    job_id=job.id, reason="force", status="completed", requested_at=finished,
                    started_at=finished, finished_at=finished, files_copied=3,
                    bytes_copied=copied,
                )
            )  # fmt: skip
        db.session.commit()
        return job.id


def cloud_file(app, owner_id: int, name: str, size: int, when: datetime, jobs=()) -> int:
    """A cloud file with one version, and replication jobs: (status, finished_at, done bytes)."""
    with app.app_context():
        file = CloudFile(owner_id=owner_id, filename=name, created_at=when, updated_at=when)
        db.session.add(file)
        db.session.flush()
        db.session.add(
            CloudVersion(file_id=file.id, number=1, size=size, md5="0" * 32,
                         stored_path=f"{file.id}/1", created_at=when, modified_at=when)
        )  # fmt: skip
        for target, (status, finished, done) in zip(TARGETS, jobs, strict=False):
            job = CloudJob(
                id=str(uuid.uuid4()), owner_id=owner_id, file_id=file.id, version=1,
                targets=[target], status=status, bytes_total=size, created_at=when,
                finished_at=finished,
            )  # fmt: skip
            db.session.add(job)
            db.session.flush()
            db.session.add(
                CloudCopy(file_id=file.id, target=target, remote_path=name, wanted_version=1,
                          status="completed" if status == "completed" else "running",
                          job_id=job.id, bytes_done=done)
            )  # fmt: skip
        db.session.commit()
        return file.id


def conflict(owner_id: int, file_id: int, resolved: bool = False) -> CloudConflict:
    return CloudConflict(
        owner_id=owner_id, file_id=file_id, target="s3", remote_path="x", local_version=1,
        local_size=1, local_md5="0" * 32, local_modified=NOW, resolved=resolved,
    )  # fmt: skip


def seed_world(app, alice: int, bob: int) -> None:
    """Alice's and Bob's things at times around NOW. Bob's backups use Alice's profile and
    archive names: they must neither show on her dashboard nor mend her broken chain."""
    add(
        app,
        archive(alice, "FULL", "full_old.tar.gz", "laptop", 1000, at("2026-01-01T00:00:00")),
        archive(
            alice,
            "INC",
            "inc_1.tar.gz",
            "laptop",
            200,
            at("2026-03-20T10:00:00"),
            "full_old.tar.gz",
        ),
        archive(
            alice, "DIFF", "diff_orphan.tar.gz", "server", 30, at("2026-03-31T12:29:00"), "gone"
        ),
        archive(bob, "FULL", "gone", "server", 50000, at("2026-03-31T12:00:00")),
        archive(bob, "FULL", "full_new.tar.gz", "laptop", 60000, at("2026-03-31T12:01:00")),
        snapshot(alice, "office-pc", 40, at("2026-03-30T08:00:00")),
        snapshot(alice, "office-pc", 50, at("2026-03-31T08:00:00")),
        snapshot(bob, "bobs-pc", 9999, at("2026-03-31T09:00:00")),
        document(alice, "a.pdf", 7, at("2026-03-30T23:59:00"), synced_to_nas=True),
        document(alice, "b.pdf", 8, at("2026-03-25T00:00:00"), last_error="NAS unreachable"),
        document(alice, "c.pdf", 9, at("2026-03-25T00:00:00")),
        document(alice, "d.pdf", 10, at("2026-03-25T00:00:00")),
        document(bob, "bob.pdf", 11111, at("2026-03-31T10:00:00"), synced_to_nas=True),
    )
    sync_job(app, alice, "photos", "idle", runs=[(at("2026-03-31T12:10:00"), 4096)])
    sync_job(app, alice, "mail", "error")
    sync_job(app, bob, "bobs job", "running", runs=[(at("2026-03-31T12:00:00"), 77777)])
    report = cloud_file(
        app, alice, "report.pdf", 300, at("2026-03-02T00:00:00"),
        jobs=[("completed", at("2026-03-31T11:00:00"), 300), ("running", None, 150)],
    )  # fmt: skip
    cloud_file(app, alice, "failed.pdf", 5, at("2026-03-02T00:00:00"),
               jobs=[("failed", at("2026-03-31T11:30:00"), 0)])  # fmt: skip
    bobs = cloud_file(app, bob, "bob.txt", 123456, at("2026-03-31T10:00:00"))
    add(app, conflict(alice, report), conflict(alice, report, resolved=True), conflict(bob, bobs))


@pytest.fixture
def people(app):
    return make_user(app, "alice@example.com"), make_user(app, "bob@example.com")


def dashboard_of(app, email: str, now: datetime = NOW) -> dict:
    with app.app_context():
        return summary(find_user(email), now)


def stats(page: str) -> dict[str, str]:
    """What each data-stat element of the page shows."""
    return {
        path: unescape(text)
        for path, text in re.findall(r'data-stat="([^"]+)" data-format="[a-z]+">([^<]*)<', page)
    }


def series(chart: dict) -> dict[str, list[int]]:
    return {line["key"]: line["data"] for line in chart["series"]}


# --- who gets what at / --------------------------------------------------------------------------


def test_browsers_get_the_dashboard_and_api_clients_seed_003s_json(client, user):
    sign_in(client, user)
    page = client.get("/", headers=HTML)
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert b"<h1>Dashboard</h1>" in page.data and b'id="dashboard"' in page.data
    assert client.get("/dashboard", headers=HTML).data.count(b'id="dashboard"') == 1
    for accept in ("*/*", "application/json"):
        body = client.get("/", headers={"Accept": accept}).get_json()
        assert body["name"] == "syncapp" and "POST /upload" in body["endpoints"]


def test_the_dashboard_needs_a_login(client, user):
    for path in ("/", "/dashboard"):
        response = client.get(path, headers=HTML)
        assert response.status_code == 302 and "/login" in response.headers["Location"]
    api = client.get("/api/v1/dashboard", headers={"Accept": "application/json"})
    assert api.status_code == 401 and api.get_json()["error"] == "unauthorized"
    assert client.get("/", headers={"Accept": "*/*"}).status_code == 200  # seed 003: public


def test_the_page_runs_no_inline_script_and_loads_nothing_from_outside(client, user):
    sign_in(client, user)
    page = client.get("/", headers=HTML).get_data(as_text=True)
    scripts = re.findall(r"<script\b([^>]*)>", page)
    assert scripts and all(re.search(r'\bsrc="/static/', attrs) for attrs in scripts), scripts
    bodies = re.findall(r"<script\b[^>]*>(.*?)</script>", page, re.S)
    assert len(bodies) == len(scripts) and not any(body.strip() for body in bodies)
    assert not re.search(r"\son[a-z]+\s*=", page)  # no inline event handler
    assert not re.search(r'(?:src|href)="(?:https?:)?//', page)
    assert "/static/vendor/chartjs/chart.umd.min.js" in page
    chart_js = client.get("/static/vendor/chartjs/chart.umd.min.js")
    assert chart_js.status_code == 200 and b"Chart.js v4" in chart_js.data[:200]
    assert client.get("/static/js/dashboard.js").status_code == 200


def test_a_new_user_sees_empty_states_with_what_to_do(client, user):
    sign_in(client, user)
    page = client.get("/", headers=HTML).get_data(as_text=True)
    for name in ("backups", "cordiax", "documents", "syncs", "cloud", "events"):
        block = re.search(rf'<(?:div|p) class="dash-empty" data-empty="{name}"( hidden)?>', page)
        assert block and block.group(1) is None, name
        filled = re.search(rf'data-filled="{name}"( hidden)?>', page)
        assert filled is None or filled.group(1) == " hidden", name
    assert "No backups yet" in page
    assert 'curl -H "Authorization: Bearer $TOKEN" -F "file=@full_' in page
    assert "http://localhost/upload" in page and "http://localhost/api/v1/documents" in page
    assert "No Cordiax device yet" in page and "No sync jobs yet" in page


# --- the numbers --------------------------------------------------------------------------------


def test_the_page_shows_the_seeded_numbers(app, client, people):
    alice, bob = people
    seed_world(app, alice, bob)
    sign_in(client, "alice@example.com")
    page = client.get("/", headers=HTML).get_data(as_text=True)
    shown = stats(page)
    assert shown["backups.archives"] == "3"  # hers only
    assert shown["cordiax.devices"] == "1" and shown["cordiax.snapshots"] == "2"
    assert shown["documents.sync_percentage"] == "25 %"  # as dashboard.js prints 25.0
    assert shown["documents.synced"] == "1" and shown["documents.total"] == "4"
    assert shown["documents.failed"] == "1" and shown["documents.pending"] == "3"
    assert shown["syncs.jobs"] == "2" and shown["syncs.by_state.error"] == "1"
    assert shown["syncs.by_state.running"] == "0"
    assert shown["cloud.active"] == "1" and shown["cloud.open_conflicts"] == "1"
    assert shown["storage.by_type.FULL"] == "1000 B"
    assert shown["storage.by_type.cloud"] == "305 B"
    assert shown["storage.total"] == "1.6 KiB"  # 1659 bytes
    laptop = re.search(r'<tr data-profile="laptop">(.*?)</tr>', page, re.S).group(1)
    assert "full_old.tar.gz" in laptop and 'datetime="2026-01-01T00:00:00Z"' in laptop
    assert "never verified" in laptop
    server = re.search(r'<tr data-profile="server">(.*?)</tr>', page, re.S).group(1)
    assert "no FULL yet" in server and "1 without their FULL" in server
    assert "office-pc" in page and "bobs-pc" not in page and "bob.txt" not in page
    assert "mail</strong>: source folder gone" in page
    assert '<progress id="dash-doc-progress" max="100" value="25.0">' in page
    charts = json.loads(unescape(re.search(r"data-charts='([^']*)'", page).group(1)))
    assert len(charts["storage"]["labels"]) == 30 and len(charts["transfers"]["labels"]) == 24


def test_the_json_endpoint_gives_the_same_figures(app, client, people):
    alice, bob = people
    seed_world(app, alice, bob)
    body = client.get(
        "/api/v1/dashboard", headers=bearer(make_token(app, "alice@example.com"))
    ).get_json()
    assert body["scope"] == "own"
    laptop, server = body["backups"]["profiles"]
    assert laptop["profile"] == "laptop" and laptop["counts"] == {"FULL": 1, "INC": 1, "DIFF": 0}
    assert laptop["last_full"]["name"] == "full_old.tar.gz" and laptop["broken_chains"] == 0
    assert laptop["last_full"]["uploaded_at"] == "2026-01-01T00:00:00Z"
    assert server["last_full"] is None and server["broken_chains"] == 1
    assert laptop["verification"] is None
    (device,) = body["cordiax"]["devices"]
    assert device["device"] == "office-pc" and device["versions"] == 2 and device["size"] == 90
    assert device["last_snapshot"]["size"] == 50 and device["owner"] is None
    assert body["documents"] == {
        "total": 4, "synced": 1, "pending": 3, "failed": 1, "sync_percentage": 25.0, "size": 34,
        "nas_configured": False,
    }  # fmt: skip
    syncs = body["syncs"]
    assert syncs["jobs"] == 2 and syncs["by_state"]["idle"] == 1 and syncs["by_state"]["error"] == 1
    assert [job["name"] for job in syncs["attention"]] == ["mail"]
    assert syncs["last_run"]["job"] == "photos" and syncs["last_run"]["run"]["bytes_copied"] == 4096
    cloud = body["cloud"]
    assert cloud["files"] == 2 and cloud["open_conflicts"] == 1
    assert cloud["by_status"] == {"pending": 0, "running": 1, "completed": 1, "failed": 1}
    running = next(job for job in cloud["jobs"] if job["status"] == "running")
    assert running["filename"] == "report.pdf" and running["progress_percentage"] == 50.0
    assert body["storage"]["by_type"] == {
        "FULL": 1000, "INC": 200, "DIFF": 30, "cordiax": 90, "documents": 34, "cloud": 305,
    }  # fmt: skip
    assert {e["source"] for e in body["events"]} == {
        "backups", "cordiax", "documents", "syncs", "cloud"
    }  # fmt: skip
    times = [e["time"] for e in body["events"]]
    assert times == sorted(times, reverse=True) and len(times) <= 20
    assert not any("bob" in json.dumps(e) for e in body["events"])


def test_a_token_bound_to_a_device_cannot_read_the_dashboard(app, client, people):
    alice, _ = people
    add(app, snapshot(alice, "office-pc", 50, at("2026-03-31T08:00:00")))
    headers = bearer(scoped_token(app, "alice@example.com", ["cordiax:home-pc"]))
    answer = client.get("/api/v1/dashboard", headers=headers)
    # A machine's token reaches its own feature's routes only, not the user's overview.
    assert answer.status_code == 403 and answer.get_json()["error"] == "token_scope"
    assert "office-pc" not in answer.get_data(as_text=True)


def test_users_see_their_own_things_and_administrators_everything(app, client, people):
    alice, bob = people
    seed_world(app, alice, bob)
    make_user(app, "root@example.com", role="admin")
    as_bob = client.get(
        "/api/v1/dashboard", headers=bearer(make_token(app, "bob@example.com"))
    ).get_json()
    assert [d["device"] for d in as_bob["cordiax"]["devices"]] == ["bobs-pc"]
    assert as_bob["documents"]["total"] == 1 and as_bob["syncs"]["jobs"] == 1
    assert as_bob["backups"]["archives"] == 2  # his own
    assert as_bob["storage"]["by_type"]["FULL"] == 110000
    assert as_bob["cloud"]["files"] == 1 and as_bob["cloud"]["open_conflicts"] == 1
    assert as_bob["storage"]["by_type"]["documents"] == 11111

    as_admin = client.get(
        "/api/v1/dashboard", headers=bearer(make_token(app, "root@example.com"))
    ).get_json()
    assert as_admin["scope"] == "all"
    owners = {d["device"]: d["owner"] for d in as_admin["cordiax"]["devices"]}
    assert owners == {"bobs-pc": "bob@example.com", "office-pc": "alice@example.com"}
    assert as_admin["documents"]["total"] == 5 and as_admin["syncs"]["jobs"] == 3
    assert as_admin["syncs"]["by_state"]["running"] == 1
    assert as_admin["cloud"]["files"] == 3
    # Conflicts stay with their owner: the conflicts API lets nobody else resolve them.
    assert as_admin["cloud"]["open_conflicts"] == 0
    assert as_admin["storage"]["by_type"]["cordiax"] == 90 + 9999
    backups = {(p["profile"], p["owner"]): p for p in as_admin["backups"]["profiles"]}
    assert set(backups) == {
        ("laptop", "alice@example.com"), ("laptop", "bob@example.com"),
        ("server", "alice@example.com"), ("server", "bob@example.com"),
    }  # fmt: skip
    assert backups["server", "alice@example.com"]["broken_chains"] == 1
    assert backups["laptop", "bob@example.com"]["last_full"]["name"] == "full_new.tar.gz"
    assert as_admin["backups"]["archives"] == 5


# --- the chart series ---------------------------------------------------------------------------


def test_cumulative_per_day_adds_each_day_to_what_came_before():
    items = [
        (at("2026-03-01T23:59:59"), 1000),  # the day before the window: part of the baseline
        (at("2026-03-02T00:00:00"), 1),
        (at("2026-03-03T12:00:00"), 10),
        (at("2026-03-03T13:00:00"), 100),
        (at("2026-03-05T00:00:00"), 5000),  # after the last day: not counted
    ]
    assert cumulative_per_day(7, items, date(2026, 3, 4), 3) == [1008, 1118, 1118]
    assert cumulative_per_day(0, [], date(2026, 3, 4), 2) == [0, 0]


def test_per_hour_buckets_bytes_by_utc_hour():
    now = at("2026-03-31T12:30:00")
    items = [
        (at("2026-03-31T10:59:59"), 5),  # 10:00 is the first of three hours
        (at("2026-03-31T11:00:00"), 7),
        (at("2026-03-31T11:45:00"), 8),
        (at("2026-03-31T12:29:00"), 1),
        (at("2026-03-31T09:59:00"), 99),  # too old
        (at("2026-03-31T13:00:00"), 50),  # after the hour holding `now`
    ]
    assert per_hour(items, now, 3) == [5, 15, 1]


def test_the_summary_charts_cumulate_storage_per_day_and_transfers_per_hour(app, people):
    alice, bob = people
    seed_world(app, alice, bob)
    charts = dashboard_of(app, "alice@example.com")["charts"]
    storage = charts["storage"]
    assert storage["labels"][0] == "2026-03-02" and storage["labels"][-1] == "2026-03-31"
    lines = series(storage)
    assert list(lines) == ["FULL", "INC", "DIFF", "cordiax", "documents", "cloud"]
    assert lines["FULL"] == [1000] * 30  # uploaded before the window
    assert lines["INC"] == [0] * 18 + [200] * 12  # 2026-03-20 is the 19th day
    assert lines["DIFF"] == [0] * 29 + [30]
    assert lines["cordiax"] == [0] * 28 + [40, 90]
    assert lines["documents"] == [0] * 23 + [27] * 5 + [34, 34]
    assert lines["cloud"] == [305] * 30
    transfers = charts["transfers"]
    assert transfers["labels"][0] == "2026-03-30T13:00:00Z"
    assert transfers["labels"][-1] == "2026-03-31T12:00:00Z"
    moved = series(transfers)
    assert list(moved) == ["backups", "cordiax", "documents", "syncs", "cloud"]
    assert moved["backups"] == [0] * 23 + [30]
    assert moved["cordiax"] == [0] * 19 + [50, 0, 0, 0, 0]
    assert moved["documents"] == [0] * 10 + [7] + [0] * 13
    assert moved["syncs"] == [0] * 23 + [4096]  # Bob's run is not Alice's
    assert moved["cloud"] == [0] * 22 + [300, 0]  # the failed job moved nothing to count


# --- backups: verification state and live announcements ---------------------------------------


def test_the_last_verify_is_kept_per_profile_and_shown(app, client, user, token):
    first, second = make_archive(1), make_archive(2)
    upload(client, token, first, "full_a.tar.gz", type="FULL", profile="laptop")
    upload(client, token, second, "full_b.tar.gz", type="FULL", profile="server")
    local = {"FULL": [{"name": "full_a.tar.gz", "size": len(first), "md5": md5(first)}]}
    # full_b (profile server) is only on the server: out of sync as the original server said,
    # unless the client says it prunes (extra_remote: ignore); local_in_sync either way
    answer = client.post("/verify", json={"local_backups": local}, headers=bearer(token))
    assert answer.get_json()["sync_status"] == "OUT_OF_SYNC"
    assert answer.get_json()["local_in_sync"] is True
    pruning = {"local_backups": local, "extra_remote": "ignore"}
    answer = client.post("/verify", json=pruning, headers=bearer(token))
    assert answer.get_json()["sync_status"] == "SYNCHRONIZED"
    local["FULL"].append({"name": "full_new.tar.gz", "size": 1, "md5": "1" * 32})
    answer = client.post("/verify", json={"local_backups": local}, headers=bearer(token))
    assert answer.get_json()["sync_status"] == "OUT_OF_SYNC"
    # A client whose names the server has none of concerns no known profile.
    nothing = {"FULL": [{"name": "full_zzz.tar.gz", "size": 1}]}
    client.post("/verify", json={"local_backups": nothing}, headers=bearer(token))

    with app.app_context():
        assert db.session.query(BackupVerification).count() == 1
        kept = last_verifications(None)
        assert [(key, r.sync_status, r.synced, r.missing) for key, r in kept.items()] == [
            ((find_user(user).id, "laptop"), "OUT_OF_SYNC", 1, 1)
        ]
    body = client.get("/api/v1/dashboard", headers=bearer(token)).get_json()
    laptop, server = body["backups"]["profiles"]
    assert laptop["verification"]["sync_status"] == "OUT_OF_SYNC"
    assert laptop["verification"]["missing"] == 1 and server["verification"] is None
    assert body["events"][0]["event"] == "backup_verified"
    sign_in(client, user)
    page = client.get("/", headers=HTML).get_data(as_text=True)
    row = re.search(r'<tr data-profile="laptop">(.*?)</tr>', page, re.S).group(1)
    assert "out of sync" in row and "1 missing, 0 mismatched" in row


def test_uploads_and_verifications_are_announced_to_their_owner(app, client, people):
    alice, bob = people
    token = make_token(app, "alice@example.com")
    listener = subscribe(alice, False)
    stranger = subscribe(bob, False)  # Alice's backups are hers: Bob hears nothing of them
    try:
        data = make_archive(3)
        upload(client, token, data, "full_live.tar.gz", type="FULL", profile="laptop")
        upload(client, token, data, "full_live.tar.gz", type="FULL", profile="laptop")  # same
        local = {"FULL": [{"name": "full_live.tar.gz", "size": len(data)}]}
        client.post("/verify", json={"local_backups": local}, headers=bearer(token))
        events = [listener.get(timeout=5) for _ in range(2)]
        assert listener.get(timeout=0) is None  # the duplicate upload announced nothing
        assert stranger.get(timeout=0) is None
    finally:
        unsubscribe(listener)
        unsubscribe(stranger)
    uploaded, verified = events
    assert uploaded["event"] == "backup_uploaded" and uploaded["name"] == "full_live.tar.gz"
    assert uploaded["profile"] == "laptop" and uploaded["size"] == len(data)
    assert verified["event"] == "backup_verified" and verified["profiles"] == ["laptop"]
    assert verified["sync_status"] == "SYNCHRONIZED" and verified["synced"] == 1


def test_the_endpoint_is_documented_with_its_schema(client, token):
    spec = client.get("/api/v1/openapi.json", headers=bearer(token)).get_json()
    operation = spec["paths"]["/api/v1/dashboard"]["get"]
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema["$ref"].endswith("/Dashboard")
    properties = spec["components"]["schemas"]["Dashboard"]["properties"]
    assert {
        "backups",
        "cordiax",
        "documents",
        "syncs",
        "cloud",
        "storage",
        "events",
        "charts",
    } <= set(properties)


@pytest.mark.peer
def test_the_summary_reads_the_same_on_postgresql(make_app, postgres_url):
    app = make_app(database={"url": postgres_url})
    alice, bob = make_user(app, "alice@example.com"), make_user(app, "bob@example.com")
    seed_world(app, alice, bob)
    mine = dashboard_of(app, "alice@example.com")
    assert [p["broken_chains"] for p in mine["backups"]["profiles"]] == [0, 1]
    assert mine["backups"]["profiles"][0]["last_full"].name == "full_old.tar.gz"
    assert mine["documents"]["sync_percentage"] == 25.0 and mine["documents"]["failed"] == 1
    assert [d["versions"] for d in mine["cordiax"]["devices"]] == [2]
    assert mine["storage"]["by_type"]["cloud"] == 305 and mine["cloud"]["open_conflicts"] == 1
    assert series(mine["charts"]["storage"])["INC"] == [0] * 18 + [200] * 12
    assert series(mine["charts"]["transfers"])["cloud"] == [0] * 22 + [300, 0]
