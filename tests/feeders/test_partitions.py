"""Readings partitioned by UTC day on PostgreSQL: where readings land, the partitions made
ahead, retention dropping whole days (audited), the migration keeping every reading, and
the same retention on SQLite's plain table."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction

from core.models import AuditEntry
from feeders.models import FeederReading
from feeders.partitions import DEFAULT, PARENT, partition_days, partition_name
from feeders.services.retention import readings_partitions_maintain, readings_retention_apply
from tests.feeders.conftest import reading

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.fixture
def retention_days(settings):
    """A 3-day retention, so a test's window is a handful of partitions."""
    settings.DNOCTL = {**settings.DNOCTL, "READINGS_RETENTION_DAYS": 3}
    return 3


def partition_of(feeder, measured_at: datetime) -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT tableoid::regclass::text FROM {PARENT} WHERE feeder_id = %s AND measured_at = %s",  # noqa: S608
            [feeder.pk, measured_at],
        )
        return cursor.fetchone()[0]


def days_with_partitions() -> set[date]:
    with connection.cursor() as cursor:
        return partition_days(cursor)


def stored(feeder, at: datetime, amps: float = 100.0) -> FeederReading:
    return FeederReading.objects.create(
        feeder=feeder, measured_at=at, received_at=at, amps_l1=amps, amps_l2=amps, amps_l3=amps, kw=1.0
    )


def test_a_reading_lands_in_the_partition_of_its_utc_day_at_the_boundary(
    feeder, head_end_token, post_telemetry, retention_days
):
    readings_partitions_maintain(now=utc(2026, 10, 26, 12))
    midnight = utc(2026, 10, 25)
    last_instant_before = midnight - timedelta(microseconds=1)

    response = post_telemetry(head_end_token, [reading("FDR-A", at, 100.0) for at in (last_instant_before, midnight)])

    assert response.json() == {"accepted": 2, "duplicates": 0}
    assert partition_of(feeder, last_instant_before) == "feeders_feederreading_p20261024"
    assert partition_of(feeder, midnight) == "feeders_feederreading_p20261025"


@pytest.mark.parametrize(
    "day, local_times",
    [
        # 25 October 2026: 01:30 happens twice in London (BST, then GMT).
        (date(2026, 10, 25), ["2026-10-25T01:30:00+01:00", "2026-10-25T01:30:00+00:00", "2026-10-25T23:30:00+00:00"]),
        # 29 March 2026: London skips from 01:00 to 02:00; its local midnight is 00:00 UTC.
        (date(2026, 3, 29), ["2026-03-29T00:00:00+00:00", "2026-03-29T02:30:00+01:00", "2026-03-30T00:59:59+01:00"]),
    ],
)
def test_on_a_clock_change_day_readings_are_partitioned_by_their_utc_day(
    feeder, head_end_token, post_telemetry, retention_days, day, local_times
):
    readings_partitions_maintain(now=datetime.combine(day, datetime.min.time(), tzinfo=UTC) + timedelta(days=1))
    rows = [{**reading("FDR-A", utc(2000, 1, 1), 100.0), "measured_at": at} for at in local_times]

    assert post_telemetry(head_end_token, rows).json() == {"accepted": 3, "duplicates": 0}

    for at in local_times:
        assert partition_of(feeder, datetime.fromisoformat(at)) == partition_name(day)


def test_local_midnight_in_summer_belongs_to_the_previous_utc_day(
    feeder, head_end_token, post_telemetry, retention_days
):
    readings_partitions_maintain(now=utc(2026, 7, 2))
    row = {**reading("FDR-A", utc(2000, 1, 1), 100.0), "measured_at": "2026-07-01T00:30:00+01:00"}

    post_telemetry(head_end_token, [row])

    assert partition_of(feeder, utc(2026, 6, 30, 23, 30)) == "feeders_feederreading_p20260630"


def test_a_reading_for_a_day_without_partition_is_kept_in_the_default_and_moved_when_the_day_gets_one(
    feeder, head_end_token, post_telemetry, retention_days
):
    at = utc(2020, 1, 15, 10)
    post_telemetry(head_end_token, [reading("FDR-A", at, 100.0)])
    kept = FeederReading.objects.get(feeder=feeder, measured_at=at)
    assert partition_of(feeder, at) == DEFAULT

    created = readings_partitions_maintain(now=utc(2020, 1, 16))

    assert date(2020, 1, 15) in created
    assert partition_of(feeder, at) == "feeders_feederreading_p20200115"
    moved = FeederReading.objects.get(feeder=feeder, measured_at=at)
    assert (moved.pk, moved.amps_l1, moved.kw, moved.received_at) == (kept.pk, kept.amps_l1, kept.kw, kept.received_at)


def test_partitions_are_made_ahead_for_the_whole_retention_window(retention_days):
    created = readings_partitions_maintain(now=utc(2031, 5, 10, 23, 59))

    expected = {date(2031, 5, 7) + timedelta(days=offset) for offset in range(3 + 1 + 7)}
    assert set(created) == expected
    assert expected <= days_with_partitions()


def test_retention_drops_only_whole_old_partitions_and_keeps_everything_newer(feeder, retention_days):
    readings_partitions_maintain(now=utc(2026, 10, 24))  # 21 October onwards
    old = [utc(2026, 10, 21, 12), utc(2026, 10, 22, 23, 59, 59, 999999)]
    kept = [utc(2026, 10, 23), utc(2026, 10, 25, 18)]
    straggler = utc(2019, 6, 1)  # no partition: in the default
    for at in [*old, *kept, straggler]:
        stored(feeder, at)
    assert partition_of(feeder, straggler) == DEFAULT
    kept_ids = set(FeederReading.objects.filter(measured_at__in=kept).values_list("pk", flat=True))

    result = readings_retention_apply(now=utc(2026, 10, 26, 12))

    assert result.cutoff == date(2026, 10, 23)
    assert {partition_name(date(2026, 10, 21)), partition_name(date(2026, 10, 22))} <= set(result.partitions_dropped)
    assert all(day < date(2026, 10, 23) for day in map(_day_of, result.partitions_dropped))
    assert set(FeederReading.objects.filter(feeder=feeder).values_list("pk", flat=True)) == kept_ids
    assert {date(2026, 10, 23), date(2026, 10, 24), date(2026, 10, 25)} <= days_with_partitions()
    assert not any(day < date(2026, 10, 23) for day in days_with_partitions())
    assert result.rows_deleted == 1
    entries = {
        entry.inputs.get("partition"): entry
        for entry in AuditEntry.objects.filter(actor="rule:readings-retention", action="readings.partition_dropped")
    }
    assert entries[partition_name(date(2026, 10, 21))].inputs["rows"] == 1
    assert entries[partition_name(date(2026, 10, 22))].inputs["rows"] == 1
    deleted = AuditEntry.objects.get(actor="rule:readings-retention", action="readings.deleted")
    assert deleted.inputs == {"before": "2026-10-23", "rows": 1}


def _day_of(name: str) -> date:
    return datetime.strptime(name.rsplit("_p", 1)[1], "%Y%m%d").replace(tzinfo=UTC).date()


def test_maintenance_and_retention_are_idempotent(feeder, retention_days):
    now = utc(2026, 10, 26, 12)
    readings_partitions_maintain(now=now - timedelta(days=5))
    stored(feeder, utc(2026, 10, 21, 6))
    readings_partitions_maintain(now=now)
    first = readings_retention_apply(now=now)
    audited = AuditEntry.objects.count()
    days = days_with_partitions()

    assert readings_partitions_maintain(now=now) == []
    again = readings_retention_apply(now=now)

    assert first.partitions_dropped
    assert (again.partitions_dropped, again.rows_deleted) == ([], 0)
    assert AuditEntry.objects.count() == audited
    assert days_with_partitions() == days


def test_a_partition_whose_lock_is_not_granted_is_left_for_the_next_run_without_failing():
    """GIVEN another transaction holding the default partition (as a long ingest would)
    WHEN maintenance wants to create a day THEN it gives up after the lock timeout, keeps
    going, and creates the day once the lock is free."""
    import psycopg

    from feeders.partitions import partitions_ensure

    day = date(2031, 1, 1)
    with psycopg.connect(**connection.get_connection_params()) as other:
        other.execute(f"LOCK TABLE {DEFAULT} IN ACCESS SHARE MODE")

        assert partitions_ensure(connection, first=day, last=day) == []
        assert day not in days_with_partitions()

    assert partitions_ensure(connection, first=day, last=day) == [day]


def test_duplicates_are_found_across_a_partition_boundary_as_before(feeder, head_end_token, post_telemetry):
    readings_partitions_maintain(now=utc(2026, 10, 26))
    rows = [reading("FDR-A", at, 100.0) for at in (utc(2026, 10, 24, 23, 59, 50), utc(2026, 10, 25))]

    assert post_telemetry(head_end_token, [*rows, rows[1]]).json() == {"accepted": 2, "duplicates": 1}
    assert post_telemetry(head_end_token, rows).json() == {"accepted": 0, "duplicates": 2}
    assert FeederReading.objects.filter(feeder=feeder).count() == 2
    with pytest.raises(IntegrityError), transaction.atomic():
        stored(feeder, utc(2026, 10, 25))


@pytest.mark.django_db(transaction=True)
def test_the_migration_moves_every_existing_reading_into_the_partitions(feeder):
    call_command("migrate", "feeders", "0003", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute("SELECT relkind FROM pg_class WHERE oid = %s::regclass", [PARENT])
        assert cursor.fetchone()[0] == "r"  # a plain table again
    times = [utc(2025, 12, 31, 23, 59, 59), utc(2026, 1, 1), utc(2026, 3, 29, 1, 30), timezone_now_minus(2)]
    before = [stored(feeder, at, amps=10.0 + index) for index, at in enumerate(times)]

    call_command("migrate", "feeders", verbosity=0)

    after = {r.pk: r for r in FeederReading.objects.filter(feeder=feeder)}
    assert {pk: (r.measured_at, r.amps_l1) for pk, r in after.items()} == {
        r.pk: (r.measured_at, r.amps_l1) for r in before
    }
    for old in before:
        assert partition_of(feeder, old.measured_at) == partition_name(old.measured_at.date())
    newest = stored(feeder, timezone_now_minus(1))
    assert newest.pk > max(r.pk for r in before)  # the id sequence carried on


def timezone_now_minus(minutes: int) -> datetime:
    return datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=minutes)


def test_the_hourly_beat_task_makes_partitions_ahead_and_applies_the_retention(feeder, retention_days):
    from dnoctl.celery import app
    from feeders.tasks import readings_maintain_task

    now = datetime.now(UTC)
    readings_partitions_maintain(now=now - timedelta(days=5))
    old = stored(feeder, now - timedelta(days=5))
    recent = stored(feeder, now - timedelta(minutes=5))

    result = readings_maintain_task()

    assert partition_name((now - timedelta(days=5)).date()) in result["partitions_dropped"]
    assert list(FeederReading.objects.filter(feeder=feeder).values_list("pk", flat=True)) == [recent.pk]
    assert old.pk not in set(FeederReading.objects.values_list("pk", flat=True))
    assert (now + timedelta(days=7)).date() in days_with_partitions()
    entry = app.conf.beat_schedule["feeders-readings-maintain"]
    assert entry["task"] == "feeders.tasks.readings_maintain"
    assert entry["schedule"] <= 3600


SQLITE_CHILD = r"""
import json
from datetime import UTC, datetime, timedelta
import django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from core.models import AuditEntry
from feeders.models import FeederReading
from feeders.services import monitor_token_issue, telemetry_ingest
from feeders.models import MonitorToken
from feeders.services.retention import readings_partitions_maintain, readings_retention_apply
from tests.feeders.factories import FeederFactory
feeder = FeederFactory(code="FDR-S", rating_amps=400.0)
monitor_token_issue(name="head-end")
token = MonitorToken.objects.get(name="head-end")
now = datetime(2026, 10, 26, 12, tzinfo=UTC)
times = [datetime(2026, 10, 22, 23, 59, 59, tzinfo=UTC), datetime(2026, 10, 23, tzinfo=UTC), now - timedelta(minutes=1)]
rows = [{"feeder": "FDR-S", "measured_at": at.isoformat(), "amps": [100, 100, 100], "kw": 69.0} for at in times]
first = telemetry_ingest(token=token, readings=rows + rows[:1], now=now)
again = telemetry_ingest(token=token, readings=rows, now=now)
created = readings_partitions_maintain(now=now)
result = readings_retention_apply(now=now)
repeat = readings_retention_apply(now=now)
entries = list(AuditEntry.objects.filter(actor="rule:readings-retention").values("action", "inputs"))
print(json.dumps({
    "ingest": [first.accepted, first.duplicates, again.accepted, again.duplicates],
    "created": [str(day) for day in created],
    "deleted": [result.rows_deleted, result.partitions_dropped, repeat.rows_deleted],
    "left": sorted(at.isoformat() for at in FeederReading.objects.values_list("measured_at", flat=True)),
    "audit": entries,
}))
"""


def test_sqlite_keeps_one_table_and_retention_deletes_the_old_rows(tmp_path, settings):
    env = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "REDIS_URL")}
    env.update(
        DNOCTL_SQLITE_PATH=str(tmp_path / "embedded.sqlite3"), PYTHONPATH=str(ROOT), DNOCTL_READINGS_RETENTION_DAYS="3"
    )
    child = subprocess.run([sys.executable, "-c", SQLITE_CHILD], cwd=ROOT, env=env, capture_output=True, text=True)
    assert child.returncode == 0, child.stderr[-3000:]
    result = json.loads(child.stdout.strip().splitlines()[-1])

    assert result["ingest"] == [3, 1, 0, 3]
    assert result["created"] == []
    assert result["deleted"] == [1, [], 0]
    assert result["left"] == ["2026-10-23T00:00:00+00:00", "2026-10-26T11:59:00+00:00"]
    assert result["audit"] == [{"action": "readings.deleted", "inputs": {"before": "2026-10-23", "rows": 1}}]
