"""Telemetry ingest: the happy path, idempotency, late readings, clock-change days."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from feeders.choices import FeederStatus
from feeders.models import Feeder, FeederReading
from tests.feeders.conftest import minutes_ago, reading
from tests.feeders.factories import FeederFactory

pytestmark = pytest.mark.django_db


def test_valid_batch_is_stored_and_answered_202_with_counts(feeder, other_feeder, head_end_token, post_telemetry):
    now = timezone.now()
    rows = [reading("FDR-A", minutes_ago(m, now), 100.0 + m) for m in (3, 2, 1)]
    rows.append({"monitor": "MON-B", "measured_at": minutes_ago(1, now).isoformat(), "amps": [50, 60, 70], "kw": 41.4})

    response = post_telemetry(head_end_token, rows)

    assert response.status_code == 202, response.content
    assert response.json() == {"accepted": 4, "duplicates": 0}
    assert FeederReading.objects.filter(feeder=feeder).count() == 3
    stored = FeederReading.objects.get(feeder=other_feeder)
    assert (stored.amps_l1, stored.amps_l2, stored.amps_l3, stored.kw) == (50, 60, 70, 41.4)


def test_ingest_updates_the_feeder_summary_to_its_newest_reading(feeder, head_end_token, post_telemetry):
    now = timezone.now()
    newest = minutes_ago(1, now)
    rows = [reading("FDR-A", newest, [200.0, 100.0, 120.0]), reading("FDR-A", minutes_ago(2, now), 300.0)]

    assert post_telemetry(head_end_token, rows).status_code == 202

    feeder.refresh_from_db()
    assert feeder.last_reading_at == newest
    assert feeder.last_load_percent == 50.0  # the most loaded phase: 200 of 400 A
    assert feeder.status == FeederStatus.NORMAL


def test_same_batch_twice_counts_duplicates_and_stores_nothing_new(feeder, head_end_token, post_telemetry):
    now = timezone.now()
    rows = [reading("FDR-A", minutes_ago(m, now), 100.0) for m in (3, 2, 1)]
    assert post_telemetry(head_end_token, rows).json() == {"accepted": 3, "duplicates": 0}

    response = post_telemetry(head_end_token, rows)

    assert response.status_code == 202
    assert response.json() == {"accepted": 0, "duplicates": 3}
    assert FeederReading.objects.filter(feeder=feeder).count() == 3


def test_repeated_row_within_one_batch_is_stored_once(feeder, head_end_token, post_telemetry):
    row = reading("FDR-A", minutes_ago(1), 100.0)

    response = post_telemetry(head_end_token, [row, row])

    assert response.json() == {"accepted": 1, "duplicates": 1}
    assert FeederReading.objects.filter(feeder=feeder).count() == 1


def test_late_and_out_of_order_readings_are_accepted_without_moving_the_summary_back(
    feeder, head_end_token, post_telemetry
):
    now = timezone.now()
    newest = minutes_ago(1, now)
    assert post_telemetry(head_end_token, [reading("FDR-A", newest, 100.0)]).status_code == 202

    late = [reading("FDR-A", now - timedelta(days=3, minutes=m), 380.0) for m in (5, 1, 3)]
    response = post_telemetry(head_end_token, late)

    assert response.json() == {"accepted": 3, "duplicates": 0}
    assert FeederReading.objects.filter(feeder=feeder).count() == 4
    feeder.refresh_from_db()
    assert feeder.last_reading_at == newest
    assert feeder.last_load_percent == 25.0


def test_a_bound_monitor_token_posts_for_its_own_feeder(feeder, monitor_a_token, post_telemetry):
    response = post_telemetry(monitor_a_token, [reading("FDR-A", minutes_ago(1), 100.0)])

    assert response.status_code == 202
    assert FeederReading.objects.filter(feeder=feeder).count() == 1


@pytest.mark.parametrize(
    ("local", "utc"),
    [
        # Spring forward, 2026-03-29: 00:59:30 GMT, then 02:00:30 BST one minute later.
        ("2026-03-29T00:59:30+00:00", datetime(2026, 3, 29, 0, 59, 30, tzinfo=UTC)),
        ("2026-03-29T02:00:30+01:00", datetime(2026, 3, 29, 1, 0, 30, tzinfo=UTC)),
        # Fall back, 2026-10-25: 01:30 happens twice; the offset says which.
        ("2026-10-25T01:30:00+01:00", datetime(2026, 10, 25, 0, 30, tzinfo=UTC)),
        ("2026-10-25T01:30:00+00:00", datetime(2026, 10, 25, 1, 30, tzinfo=UTC)),
        ("2026-10-25T01:00:00Z", datetime(2026, 10, 25, 1, 0, tzinfo=UTC)),
    ],
)
def test_clock_change_day_readings_are_stored_in_utc(feeder, head_end_token, post_telemetry, local, utc):
    row = {"feeder": "FDR-A", "measured_at": local, "amps": [10, 10, 10], "kw": 6.9}

    assert post_telemetry(head_end_token, [row]).status_code == 202

    assert list(FeederReading.objects.values_list("measured_at", flat=True)) == [utc]


def test_both_readings_of_the_repeated_autumn_hour_are_kept(feeder, head_end_token, post_telemetry):
    rows = [
        {"feeder": "FDR-A", "measured_at": "2026-10-25T01:30:00+01:00", "amps": [10, 10, 10], "kw": 6.9},
        {"feeder": "FDR-A", "measured_at": "2026-10-25T01:30:00+00:00", "amps": [20, 20, 20], "kw": 13.8},
    ]

    assert post_telemetry(head_end_token, rows).json() == {"accepted": 2, "duplicates": 0}

    stored = list(FeederReading.objects.order_by("measured_at").values_list("measured_at", "amps_l1"))
    assert stored == [
        (datetime(2026, 10, 25, 0, 30, tzinfo=UTC), 10.0),
        (datetime(2026, 10, 25, 1, 30, tzinfo=UTC), 20.0),
    ]


def test_a_feeder_back_from_offline_is_shown_normal(feeder, head_end_token, post_telemetry):
    Feeder.objects.filter(pk=feeder.pk).update(status=FeederStatus.OFFLINE)

    post_telemetry(head_end_token, [reading("FDR-A", minutes_ago(0.5), 100.0)])

    feeder.refresh_from_db()
    assert feeder.status == FeederStatus.NORMAL


def test_an_old_reading_does_not_bring_an_offline_feeder_back(feeder, head_end_token, post_telemetry):
    Feeder.objects.filter(pk=feeder.pk).update(status=FeederStatus.OFFLINE)

    post_telemetry(head_end_token, [reading("FDR-A", minutes_ago(60), 100.0)])

    feeder.refresh_from_db()
    assert feeder.status == FeederStatus.OFFLINE
    assert feeder.last_reading_at is not None


@pytest.mark.parametrize("code", ['FDR "Q"', "FDR\\7", "FDR {1,2}", "FDR é"])
def test_feeder_codes_with_quotes_braces_or_backslashes_are_found(head_end_token, post_telemetry, code):
    """The codes reach PostgreSQL as one array literal: quotes and backslashes must be
    escaped, braces and commas quoted, whichever way the literal is built."""
    special = FeederFactory(code=code, monitor_device_id=f"MON {code}")
    plain = FeederFactory(code="FDR-PLAIN")
    now = timezone.now()

    response = post_telemetry(
        head_end_token, [reading(code, minutes_ago(1, now), 100.0), reading("FDR-PLAIN", minutes_ago(1, now), 80.0)]
    )

    assert response.status_code == 202, response.content
    assert FeederReading.objects.filter(feeder=special).count() == 1
    assert FeederReading.objects.filter(feeder=plain).count() == 1
    special.refresh_from_db()
    assert special.last_load_percent == 25.0


def test_a_body_only_the_lenient_parser_reads_is_still_accepted(feeder, head_end_token, post_telemetry):
    """Bodies go through orjson first; a UTF-8 byte order mark, which it refuses and
    ``json`` skips, must not turn a good batch into a 400."""
    body = json.dumps({"readings": [reading("FDR-A", minutes_ago(1), 100.0)]}).encode()

    response = post_telemetry(head_end_token, None, raw=b"\xef\xbb\xbf" + body)

    assert response.status_code == 202, response.content
    assert FeederReading.objects.filter(feeder=feeder).count() == 1
