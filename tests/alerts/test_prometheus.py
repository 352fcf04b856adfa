"""The alerts in Prometheus: /metrics shows syncapp_alerts_firing per kind and each profile's
last backup time (a user only their own), and every rule of deploy/prometheus-rules.yml names
metrics that /metrics really serves."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta
from pathlib import Path

import yaml

from syncapp import scheduled_runs
from syncapp.alerts.registry import KINDS
from syncapp.cordiax.wiring import snapshot_store
from syncapp.timeutil import utcnow
from tests.alerts.helpers import evaluate
from tests.backups.helpers import make_archive, upload
from tests.conftest import bearer, make_token, make_user
from tests.cordiax.payloads import encrypted_database

RULES = Path(__file__).resolve().parents[2] / "deploy" / "prometheus-rules.yml"
#: a series name in a PromQL expression (functions such as time() or max are not syncapp_*)
METRIC = re.compile(r"\bsyncapp_[a-z0-9_]+\b")


def _scrape(client, token: str) -> str:
    reply = client.get("/metrics", headers=bearer(token))
    assert reply.status_code == 200
    return reply.get_data(as_text=True)


def _series(text: str) -> set[str]:
    """Names with at least one sample in an exposition."""
    return {line.split("{")[0].split(" ")[0] for line in text.splitlines() if line[:1].isalpha()}


def _world(app):
    ids = {name: make_user(app, f"{name}@example.com") for name in ("ann", "bob")}
    make_user(app, "root@example.com", role="admin")
    tokens = {n: make_token(app, f"{n}@example.com") for n in ("ann", "bob", "root")}
    client = app.test_client()
    for name, seed in (("ann", 1), ("bob", 2)):
        reply = upload(
            client, tokens[name], make_archive(seed), "full_2026-03-01_00-00-00.tar.gz",
            type="FULL", profile=f"{name}-web",
        )  # fmt: skip
        assert reply.status_code == 201, reply.get_json()
    # a restic repository with a snapshot (syncapp_restic_last_snapshot_timestamp_seconds)
    restic = bearer(tokens["ann"])
    assert client.post("/restic/ann-laptop/?create=true", headers=restic).status_code == 200
    snapshot = b'{"time": "2026-03-01T00:00:00Z"}'
    name = hashlib.sha256(snapshot).hexdigest()
    reply = client.post(f"/restic/ann-laptop/snapshots/{name}", data=snapshot, headers=restic)
    assert reply.status_code == 200
    with app.app_context():
        snapshot_store().store(ids["ann"], "ann-pc", encrypted_database(2000, seed=3))
        scheduled_runs.start("alerts.evaluate")
    evaluate(app, utcnow() + timedelta(days=8))  # every profile and device is late
    return client, tokens


def test_metrics_show_alerts_and_last_backups_scoped_to_the_caller(app):
    client, tokens = _world(app)
    admin = _scrape(client, tokens["root"])
    for kind in KINDS:  # every kind has a series, 0 when nothing fires
        assert f'syncapp_alerts_firing{{kind="{kind}"}}' in admin
    assert 'syncapp_alerts_firing{kind="backup_rhythm"} 4.0' in admin  # ANY and FULL, twice
    bobs = r'syncapp_last_backup_timestamp_seconds\{owner="\d+",profile="bob-web",type="FULL"\} \d'
    assert re.search(bobs, admin)

    ann = _scrape(client, tokens["ann"])
    assert 'profile="ann-web"' in ann and 'profile="bob-web"' not in ann
    assert 'syncapp_alerts_firing{kind="backup_rhythm"} 2.0' in ann
    assert 'device="ann-pc"' in ann
    assert 'device="ann-pc"' not in _scrape(client, tokens["bob"])


def test_every_rule_names_metrics_that_metrics_serves(app):
    client, tokens = _world(app)
    served = _series(_scrape(client, tokens["root"]))
    rules = [
        rule for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]
    ]
    assert {rule["alert"] for rule in rules} >= {
        "SyncappBackupMissed", "SyncappScrubFindings", "SyncappAlertFiring",
        "SyncappNoSchedulerLeader",
    }  # fmt: skip
    for rule in rules:
        names = set(METRIC.findall(rule["expr"]))
        assert names, f"{rule['alert']} names no syncapp metric"
        assert names <= served, f"{rule['alert']}: {sorted(names - served)} not in /metrics"
        assert rule["annotations"]["summary"] and rule["labels"]["severity"]
