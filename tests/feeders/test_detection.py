"""At-risk detection: threshold, trend, hysteresis, backfill, one open alert per feeder."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from core.models import AuditEntry
from curtailment.tasks import event_open_for_alert
from feeders.choices import AlertKind, FeederStatus
from feeders.models import Feeder, FeederAlert, FeederReading
from feeders.services import telemetry_ingest
from tests.feeders.conftest import minutes_ago, reading

pytestmark = pytest.mark.django_db


def amps_for(percent: float, rating: float = 400.0) -> float:
    return percent / 100.0 * rating


def test_a_reading_at_the_at_risk_level_raises_a_threshold_alert(
    feeder, head_end_token, post_telemetry, django_capture_on_commit_callbacks, feeder_pushes, queued_tasks
):
    at = minutes_ago(0.5)
    with django_capture_on_commit_callbacks(execute=True):
        response = post_telemetry(head_end_token, [reading("FDR-A", at, [amps_for(90), 100.0, 100.0])])

    assert response.status_code == 202
    alert = FeederAlert.objects.get(feeder=feeder)
    assert (alert.kind, alert.cleared_at, alert.measured_at, alert.load_percent) == (
        AlertKind.THRESHOLD,
        None,
        at,
        90.0,
    )
    feeder.refresh_from_db()
    assert feeder.status == FeederStatus.AT_RISK
    audit = AuditEntry.objects.get(action="alert.raised")
    assert audit.actor == "rule:detection"
    assert audit.target_id == str(alert.pk)
    assert audit.inputs["load_percent"] == 90.0 and audit.inputs["at_risk_percent"] == 90.0
    assert queued_tasks() == [(event_open_for_alert.name, {"alert_id": alert.pk})]
    pushed = {(m["type"], m["payload"].get("state")) for m in feeder_pushes()}
    assert {("feeder.alert", "raised"), ("feeder.status", None), ("feeder.reading", None)} <= pushed


def test_below_the_at_risk_level_raises_nothing(feeder, head_end_token, post_telemetry):
    post_telemetry(head_end_token, [reading("FDR-A", minutes_ago(0.5), amps_for(89.9))])

    assert FeederAlert.objects.count() == 0
    feeder.refresh_from_db()
    assert feeder.status == FeederStatus.NORMAL


def test_an_open_alert_is_not_raised_again(feeder, head_end_token, post_telemetry):
    now = timezone.now()
    post_telemetry(head_end_token, [reading("FDR-A", minutes_ago(2, now), amps_for(95))])
    post_telemetry(head_end_token, [reading("FDR-A", minutes_ago(1, now), amps_for(99))])

    assert FeederAlert.objects.filter(feeder=feeder).count() == 1
    assert AuditEntry.objects.filter(action="alert.raised").count() == 1


def test_a_rising_trend_raises_a_trend_alert_before_the_threshold(feeder, head_end_token, post_telemetry):
    """GIVEN load rising 5 %/min from 55 % to 85 % over six minutes (below the 90 % level)
    WHEN the latest reading arrives THEN the trend forecasts > 100 % within 10 minutes."""
    now = timezone.now()
    rows = [reading("FDR-A", minutes_ago(6 - m, now), amps_for(55 + 5 * m)) for m in range(7)]

    post_telemetry(head_end_token, rows)

    alert = FeederAlert.objects.get(feeder=feeder)
    assert alert.kind == AlertKind.TREND
    assert alert.forecast["slope_percent_per_minute"] == pytest.approx(5.0)
    assert alert.forecast["forecast_percent"] == pytest.approx(135.0)
    audit = AuditEntry.objects.get(action="alert.raised")
    assert audit.inputs["trend"]["forecast_percent"] == pytest.approx(135.0)


def test_a_short_rise_is_not_enough_for_a_trend(feeder, head_end_token, post_telemetry):
    now = timezone.now()
    rows = [reading("FDR-A", minutes_ago(3 - m, now), amps_for(60 + 8 * m)) for m in range(4)]  # 60..84 % in 3 min

    post_telemetry(head_end_token, rows)

    assert FeederAlert.objects.count() == 0


def test_a_flat_high_load_below_threshold_raises_nothing(feeder, head_end_token, post_telemetry):
    now = timezone.now()
    rows = [reading("FDR-A", minutes_ago(8 - m, now), amps_for(85 + (m % 2))) for m in range(9)]

    post_telemetry(head_end_token, rows)

    assert FeederAlert.objects.count() == 0


@pytest.fixture
def hold_3_minutes(settings):
    """A 3-minute hold, so a whole hold fits inside the 5-minute live (non-backfill) window."""
    settings.DNOCTL = {**settings.DNOCTL, "CLEAR_HOLD_MINUTES": 3, "BACKFILL_AFTER_MINUTES": 5}


def test_the_alert_clears_only_after_the_hold_time_below_the_clear_level(
    feeder, head_end_token, post_telemetry, hold_3_minutes
):
    now = timezone.now()

    def post(minutes_before_now: float, percent: float) -> None:
        row = reading("FDR-A", minutes_ago(minutes_before_now, now), amps_for(percent))
        assert post_telemetry(head_end_token, [row]).status_code == 202

    def alert() -> FeederAlert:
        return FeederAlert.objects.get(feeder=feeder)

    post(4.9, 95)
    post(4.5, 79)  # below clear: the hold starts
    post(4.0, 85)  # back above clear (still below at-risk): the hold restarts
    assert alert().below_clear_since is None
    post(3.5, 70)
    post(1.0, 75)  # 2.5 minutes below clear
    assert alert().cleared_at is None
    assert AuditEntry.objects.filter(action="alert.cleared").count() == 0
    assert alert().below_clear_since == minutes_ago(3.5, now)
    feeder.refresh_from_db()
    assert feeder.status == FeederStatus.AT_RISK

    post(0.5, 60)  # 3 minutes below clear

    assert alert().cleared_at is not None
    feeder.refresh_from_db()
    assert feeder.status == FeederStatus.NORMAL
    cleared = AuditEntry.objects.get(action="alert.cleared")
    assert cleared.inputs["clear_percent"] == 80.0 and cleared.inputs["clear_hold_minutes"] == 3


def test_hysteresis_within_one_batch(feeder, head_end_token, post_telemetry):
    now = timezone.now()
    rows = [reading("FDR-A", minutes_ago(4.8, now), amps_for(95))]
    rows += [reading("FDR-A", minutes_ago(4.5 - 0.5 * i, now), amps_for(50)) for i in range(9)]  # 4.5 .. 0.5 ago

    post_telemetry(head_end_token, rows)

    alert = FeederAlert.objects.get(feeder=feeder)
    assert alert.cleared_at is None  # only 4 minutes below clear
    assert post_telemetry(head_end_token, [reading("FDR-A", now + timedelta(seconds=30), amps_for(50))])
    alert.refresh_from_db()
    assert alert.cleared_at is not None  # 5 minutes


def test_a_new_alert_can_be_raised_after_one_cleared(feeder, head_end_token, post_telemetry, hold_3_minutes):
    now = timezone.now()
    rows = [reading("FDR-A", minutes_ago(4.9, now), amps_for(95))]
    rows += [reading("FDR-A", minutes_ago(4.8 - 0.6 * i, now), amps_for(40)) for i in range(8)]  # to 0.6 ago
    rows += [reading("FDR-A", now, amps_for(92))]

    post_telemetry(head_end_token, rows)

    alerts = list(FeederAlert.objects.filter(feeder=feeder).order_by("id").values_list("cleared_at", flat=True))
    assert len(alerts) == 2 and alerts[0] is not None and alerts[1] is None


def test_backfilled_readings_never_raise_alerts(feeder, head_end_token, post_telemetry):
    now = timezone.now()
    rows = [reading("FDR-A", minutes_ago(30 - m, now), amps_for(120)) for m in range(10)]  # 30..21 min ago

    response = post_telemetry(head_end_token, rows)

    assert response.json() == {"accepted": 10, "duplicates": 0}
    assert FeederAlert.objects.count() == 0
    feeder.refresh_from_db()
    assert feeder.last_reading_at == minutes_ago(21, now)


def test_a_late_reading_older_than_the_latest_does_not_judge(feeder, head_end_token, post_telemetry):
    now = timezone.now()
    post_telemetry(head_end_token, [reading("FDR-A", minutes_ago(0.5, now), amps_for(50))])

    post_telemetry(head_end_token, [reading("FDR-A", minutes_ago(1, now), amps_for(99))])

    assert FeederReading.objects.filter(feeder=feeder).count() == 2
    assert FeederAlert.objects.count() == 0


def test_detection_judges_each_feeder_in_a_batch(feeder, other_feeder, head_end_token, post_telemetry):
    at = minutes_ago(0.5)
    rows = [reading("FDR-A", at, amps_for(50)), reading("FDR-B", at, amps_for(95, rating=200.0))]

    post_telemetry(head_end_token, rows)

    assert list(FeederAlert.objects.values_list("feeder__code", flat=True)) == ["FDR-B"]


@pytest.mark.django_db(transaction=True)
def test_concurrent_batches_raise_one_alert_per_feeder(feeder):
    """GIVEN eight monitors' batches crossing the threshold at the same moment
    WHEN they are ingested concurrently THEN exactly one alert is open and audited."""
    from feeders.models import MonitorToken

    token = MonitorToken.objects.create(name="t", token_sha256="0" * 64)
    now = timezone.now()
    barrier = threading.Barrier(8)
    outcomes: list[object] = []

    def ingest(offset: int) -> None:
        try:
            rows = [reading("FDR-A", now - timedelta(seconds=offset + 1), amps_for(95))]
            barrier.wait(timeout=10)
            outcomes.append(telemetry_ingest(token=token, readings=rows))
        except Exception as exc:  # collected and asserted below
            outcomes.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=ingest, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert all(not isinstance(outcome, Exception) for outcome in outcomes), outcomes
    assert sum(outcome.accepted for outcome in outcomes) == 8
    assert FeederAlert.objects.filter(feeder=feeder, cleared_at__isnull=True).count() == 1
    assert AuditEntry.objects.filter(action="alert.raised").count() == 1
    assert Feeder.objects.get(pk=feeder.pk).status == FeederStatus.AT_RISK


def test_a_curtailing_feeder_keeps_its_status_when_an_alert_clears(
    feeder, head_end_token, post_telemetry, hold_3_minutes
):
    now = timezone.now()
    post_telemetry(head_end_token, [reading("FDR-A", minutes_ago(4.9, now), amps_for(95))])
    Feeder.objects.filter(pk=feeder.pk).update(status=FeederStatus.CURTAILING)
    rows = [reading("FDR-A", minutes_ago(4.8 - 0.6 * i, now), amps_for(40)) for i in range(10)]

    post_telemetry(head_end_token, rows)

    assert FeederAlert.objects.get(feeder=feeder).cleared_at is not None
    feeder.refresh_from_db()
    assert feeder.status == FeederStatus.CURTAILING
