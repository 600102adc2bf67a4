"""The embedded demo runs on SQLite, where ingest, locking, summaries and the trend take
portable ORM paths instead of the PostgreSQL array statements. These tests run those
paths against the harness database (they use nothing PostgreSQL-specific) and check they
give the same answers as the PostgreSQL ones."""

from __future__ import annotations

import pytest
from django.db import connections
from django.utils import timezone

from feeders.choices import AlertKind, FeederStatus
from feeders.models import FeederAlert, FeederReading
from feeders.selectors import feeder_trends
from tests.feeders.conftest import minutes_ago, reading

pytestmark = pytest.mark.django_db


@pytest.fixture(params=["postgresql", "portable"])
def ingest_path(request, monkeypatch):
    """Each test runs twice: on the PostgreSQL statements, and on the portable ones."""
    if request.param == "portable":
        monkeypatch.setattr(connections["default"], "vendor", "sqlite")
    return request.param


def test_ingest_is_idempotent_on_both_paths(ingest_path, feeder, head_end_token, post_telemetry):
    now = timezone.now()
    rows = [reading("FDR-A", minutes_ago(m, now), 100.0) for m in (3, 2, 1)]

    assert post_telemetry(head_end_token, [*rows, rows[0]]).json() == {"accepted": 3, "duplicates": 1}
    assert post_telemetry(head_end_token, rows).json() == {"accepted": 0, "duplicates": 3}

    assert FeederReading.objects.filter(feeder=feeder).count() == 3
    feeder.refresh_from_db()
    assert (feeder.last_reading_at, feeder.last_load_percent, feeder.status) == (
        minutes_ago(1, now),
        25.0,
        FeederStatus.NORMAL,
    )


def test_threshold_and_trend_alerts_on_both_paths(ingest_path, feeder, other_feeder, head_end_token, post_telemetry):
    now = timezone.now()
    rising = [reading("FDR-A", minutes_ago(6 - m, now), 400 * (55 + 5 * m) / 100) for m in range(7)]
    crossing = [reading("FDR-B", minutes_ago(1, now), 190.0)]

    post_telemetry(head_end_token, rising + crossing)

    kinds = dict(FeederAlert.objects.values_list("feeder__code", "kind"))
    assert kinds == {"FDR-A": AlertKind.TREND, "FDR-B": AlertKind.THRESHOLD}


def test_trend_fits_agree_between_sql_and_python(feeder, head_end_token, post_telemetry, monkeypatch):
    now = timezone.now()
    loads = [61, 60, 64, 66, 65, 70, 73, 72, 78]
    post_telemetry(
        head_end_token, [reading("FDR-A", minutes_ago(8 - m, now), 4.0 * load) for m, load in enumerate(loads)]
    )
    until = minutes_ago(0, now)

    in_sql = feeder_trends(feeders=[(feeder, until)])[feeder.pk]
    monkeypatch.setattr(connections["default"], "vendor", "sqlite")
    in_python = feeder_trends(feeders=[(feeder, until)])[feeder.pk]

    assert in_sql.points == in_python.points == 5  # the 5-minute window
    assert in_sql.slope_percent_per_minute == pytest.approx(in_python.slope_percent_per_minute)
    assert in_sql.recent_slope_percent_per_minute == pytest.approx(in_python.recent_slope_percent_per_minute)
    assert in_sql.forecast_percent == pytest.approx(in_python.forecast_percent)
    assert in_sql.sufficient and in_python.sufficient
