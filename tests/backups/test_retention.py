"""Retention: last N chains plus daily/weekly/monthly FULLs; never a FULL a kept archive needs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from syncapp.backups.models import BackupArchive
from syncapp.backups.retention import RetentionPolicy, expired
from tests.backups.helpers import make_archive, store_tree, upload
from tests.conftest import bearer

START = datetime(2025, 1, 1, 12, tzinfo=UTC)


def archive(
    name: str, kind: str, day: int, base: str | None = None, profile: str = "p", owner: int = 1
):
    return BackupArchive(
        owner_id=owner,
        type=kind,
        name=name,
        profile=profile,
        size=1,
        md5="0" * 32,
        sha256="",
        uploaded_at=START + timedelta(days=day),
        base_archive=base,
    )


def names(archives) -> set[str]:
    return {a.name for a in archives}


def test_no_policy_deletes_nothing():
    archives = [archive(f"f{d}", "FULL", d) for d in range(10)]
    assert expired(archives, RetentionPolicy()) == []


def test_last_chains_keep_their_incrementals():
    archives = [
        archive("f0", "FULL", 0),
        archive("i0", "INC", 0, "f0"),
        archive("f1", "FULL", 1),
        archive("i1", "INC", 1, "f1"),
        archive("d1", "DIFF", 2, "f1"),
        archive("f2", "FULL", 3),
        archive("i2", "INC", 3, "f2"),
    ]
    doomed = expired(archives, RetentionPolicy(full_chains=2))
    assert names(doomed) == {"f0", "i0"}
    assert [a.name for a in doomed][-1] == "f0", "dependants go before the FULL they need"


def test_daily_weekly_monthly_keep_the_newest_full_of_each_period():
    fulls = [archive(f"f{d}", "FULL", d) for d in range(0, 70)]  # daily, 1 Jan to 11 Mar 2025
    kept = names(fulls) - names(expired(fulls, RetentionPolicy(daily=3, weekly=2, monthly=3)))
    # days: 11, 10, 9 Mar; weeks: 10-16 Mar (11th), 3-9 Mar (9th);
    # months: March, February (28th), January (31st)
    assert kept == {"f69", "f68", "f67", "f58", "f30"}


def test_profiles_are_judged_separately():
    archives = [
        archive("a0", "FULL", 0, profile="a"),
        archive("b0", "FULL", 0, profile="b"),
        archive("a1", "FULL", 1, profile="a"),
    ]
    assert names(expired(archives, RetentionPolicy(full_chains=1))) == {"a0"}


def test_two_owners_profiles_of_one_name_are_judged_separately():
    """B's newer chain in a profile named like A's must not expire A's only chain."""
    archives = [
        archive("f0", "FULL", 0, owner=1),
        archive("i0", "INC", 1, "f0", owner=1),
        archive("f0", "FULL", 2, owner=2),
        archive("f1", "FULL", 3, owner=2),
        archive("i0", "INC", 4, "f0", owner=2),
    ]
    doomed = expired(archives, RetentionPolicy(full_chains=1))
    assert {(a.owner_id, a.name) for a in doomed} == {(2, "f0"), (2, "i0")}


def test_retention_deletes_files_and_index_entries(make_app, tmp_path):
    from syncapp.backups.store import apply_retention
    from syncapp.backups.wiring import archive_store
    from tests.conftest import make_token, make_user

    app = make_app()
    make_user(app, "a@example.com", role="admin")  # a one-user install: the seed's layout
    token = make_token(app, "a@example.com")
    client = app.test_client()
    upload(client, token, make_archive(1), "full_old.tar.gz", type="FULL", profile="p")
    upload(client, token, make_archive(2), "inc_old.tar.gz", type="INC", profile="p")
    upload(client, token, make_archive(3), "full_new.tar.gz", type="FULL", profile="p")
    upload(client, token, make_archive(4), "inc_new.tar.gz", type="INC", profile="p")
    with app.app_context():
        deleted = apply_retention(archive_store(), RetentionPolicy(full_chains=1))
    assert deleted == ["INC/inc_old.tar.gz", "FULL/full_old.tar.gz"]
    files = {p for p in store_tree(tmp_path / "remote_backups") if not p.startswith(".")}
    assert files == {
        "FULL/full_new.tar.gz",
        "FULL/full_new.tar.gz.meta.json",
        "INC/inc_new.tar.gz",
        "INC/inc_new.tar.gz.meta.json",
    }
    assert client.get("/list", headers=bearer(token)).get_json()["total_count"] == 2
