"""Feeder services and selectors: offline sweep, status, external alerts, load and trend."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from core.models import AuditEntry
from curtailment.tasks import event_open_for_alert
from feeders.choices import AlertKind, FeederStatus
from feeders.models import Feeder, FeederAlert, MonitorToken
from feeders.selectors import (
    feeder_load_now,
    feeder_readings_between,
    feeder_trend,
    monitor_token_authenticate,
    token_sha256,
)
from feeders.services import feeder_status_refresh, feeder_status_set, feeders_offline_sweep
from feeders.tasks import feeders_offline_sweep_task
from tests.feeders.conftest import ALERTS_URL, minutes_ago, reading
from tests.feeders.factories import FeederFactory

pytestmark = pytest.mark.django_db


def test_monitor_token_is_stored_only_as_its_hash(feeder):
    from feeders.services import monitor_token_issue

    token = monitor_token_issue(name="pole-17", monitor_device_id="MON-A")

    record = MonitorToken.objects.get(name="pole-17")
    assert record.token_sha256 == token_sha256(token) and token not in record.token_sha256
    assert monitor_token_authenticate(token=token) == record
    assert monitor_token_authenticate(token=token + "x") is None


def test_offline_sweep_marks_silent_feeders_offline_and_pushes(
    feeder, other_feeder, django_capture_on_commit_callbacks, feeder_pushes
):
    now = timezone.now()
    Feeder.objects.filter(pk=feeder.pk).update(last_reading_at=now - timedelta(minutes=6), status=FeederStatus.AT_RISK)
    Feeder.objects.filter(pk=other_feeder.pk).update(last_reading_at=now - timedelta(minutes=1))
    never = FeederFactory(code="FDR-NEVER", last_reading_at=None, status=FeederStatus.NORMAL)

    with django_capture_on_commit_callbacks(execute=True):
        marked = feeders_offline_sweep(now=now)

    assert sorted(marked) == sorted([feeder.pk, never.pk])
    statuses = dict(Feeder.objects.values_list("code", "status"))
    assert statuses == {"FDR-A": "offline", "FDR-B": "normal", "FDR-NEVER": "offline"}
    pushed = [m["payload"] for m in feeder_pushes() if m["type"] == "feeder.status"]
    assert {(p["code"], p["status"], p["previous_status"]) for p in pushed} == {
        ("FDR-A", "offline", "at_risk"),
        ("FDR-NEVER", "offline", "normal"),
    }


def test_offline_sweep_task_is_idempotent_and_scheduled(feeder):
    from dnoctl.celery import app

    Feeder.objects.filter(pk=feeder.pk).update(last_reading_at=timezone.now() - timedelta(hours=1))

    assert feeders_offline_sweep_task() == 1
    assert feeders_offline_sweep_task() == 0
    assert app.conf.beat_schedule["feeders-offline-sweep"]["task"] == "feeders.tasks.feeders_offline_sweep"


def test_feeder_status_set_pushes_only_on_a_change(feeder, django_capture_on_commit_callbacks, feeder_pushes):
    with django_capture_on_commit_callbacks(execute=True):
        assert feeder_status_set(feeder=feeder, status=FeederStatus.CURTAILING) is True
        assert feeder_status_set(feeder=feeder, status=FeederStatus.CURTAILING) is False

    assert Feeder.objects.get(pk=feeder.pk).status == FeederStatus.CURTAILING
    pushed = [m["payload"]["status"] for m in feeder_pushes() if m["type"] == "feeder.status"]
    assert pushed == ["curtailing"]
    with pytest.raises(ValueError, match="unknown feeder status"):
        feeder_status_set(feeder=feeder, status="melting")


def test_feeder_status_refresh_derives_from_alerts_and_staleness(feeder, head_end_token, post_telemetry):
    post_telemetry(head_end_token, [reading("FDR-A", minutes_ago(0.5), 390.0)])
    Feeder.objects.filter(pk=feeder.pk).update(status=FeederStatus.CURTAILING)

    assert feeder_status_refresh(feeder=feeder) == FeederStatus.AT_RISK
    assert feeder_status_refresh(feeder=feeder, now=timezone.now() + timedelta(minutes=30)) == FeederStatus.OFFLINE


def post_alert(client, token, body):
    return client.post(
        ALERTS_URL, data=json.dumps(body), content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}"
    )


def test_scada_alert_opens_an_external_alert_and_hands_over(
    client, feeder, head_end_token, django_capture_on_commit_callbacks, queued_tasks
):
    body = {"feeder": "FDR-A", "raised_at": "2026-01-01T17:30:00Z", "reason": "fuse temperature", "load_percent": 97}

    with django_capture_on_commit_callbacks(execute=True):
        response = post_alert(client, head_end_token, body)

    assert response.status_code == 201
    alert = FeederAlert.objects.get(feeder=feeder)
    assert response.json() == {"alert_id": alert.pk, "created": True, "kind": "external"}
    assert alert.kind == AlertKind.EXTERNAL and alert.source == "external:head-end" and alert.load_percent == 97
    assert Feeder.objects.get(pk=feeder.pk).status == FeederStatus.AT_RISK
    assert (
        AuditEntry.objects.get(action="alert.raised").reason
        == "external alert from external:head-end: fuse temperature"
    )
    assert queued_tasks() == [(event_open_for_alert.name, {"alert_id": alert.pk})]


def test_scada_alert_on_a_feeder_already_at_risk_changes_nothing(client, feeder, head_end_token, queued_tasks):
    body = {"feeder": "FDR-A", "raised_at": "2026-01-01T17:30:00Z", "reason": "fuse temperature"}
    first = post_alert(client, head_end_token, body).json()["alert_id"]

    response = post_alert(client, head_end_token, body)

    assert response.status_code == 200
    assert response.json() == {"alert_id": first, "created": False, "kind": "external"}
    assert FeederAlert.objects.count() == 1
    assert AuditEntry.objects.filter(action="alert.raised").count() == 1


def test_scada_alert_with_a_token_bound_to_another_feeder_is_an_unknown_feeder(
    client, feeder, other_feeder, monitor_a_token
):
    body = {"feeder": "FDR-B", "raised_at": "2026-01-01T17:30:00Z", "reason": "x"}

    response = post_alert(client, monitor_a_token, body)

    assert response.status_code == 400
    assert response.json()["errors"] == [{"row": None, "field": "feeder", "reason": "unknown feeder code 'FDR-B'"}]
    assert FeederAlert.objects.count() == 0


def test_load_now_reports_the_latest_reading_and_staleness(feeder, head_end_token, post_telemetry):
    now = timezone.now()
    assert feeder_load_now(feeder=feeder).stale is True
    post_telemetry(
        head_end_token,
        [
            reading("FDR-A", minutes_ago(2, now), [100.0, 300.0, 50.0], kw=103.5),
            reading("FDR-A", minutes_ago(3, now), 10),
        ],
    )

    snapshot = feeder_load_now(feeder=feeder, now=now)

    assert (snapshot.load_percent, snapshot.kw, snapshot.measured_at, snapshot.stale) == (
        75.0,
        103.5,
        minutes_ago(2, now),
        False,
    )
    assert feeder_load_now(feeder=feeder, now=now + timedelta(minutes=10)).stale is True


def test_trend_fits_the_max_phase_load(feeder, head_end_token, post_telemetry):
    now = timezone.now()
    rows = [reading("FDR-A", minutes_ago(8 - m, now), [40.0 + 8 * m, 10.0, 10.0]) for m in range(9)]  # +2 %/min
    post_telemetry(head_end_token, rows)

    trend = feeder_trend(feeder=feeder)

    assert trend.sufficient and trend.points == 5  # the 5-minute window: older readings are left out
    assert trend.slope_percent_per_minute == pytest.approx(2.0)
    assert trend.current_percent == pytest.approx(26.0)
    assert trend.forecast_percent == pytest.approx(46.0)
    assert trend.minutes_to_rating == pytest.approx(37.0)
    assert trend.recent_slope_percent_per_minute == pytest.approx(2.0) and trend.rising
    assert not trend.will_exceed_rating


def test_readings_between_is_half_open_and_ordered(feeder, head_end_token, post_telemetry):
    now = timezone.now()
    post_telemetry(head_end_token, [reading("FDR-A", minutes_ago(m, now), 10) for m in (1, 3, 2, 4)])

    got = list(
        feeder_readings_between(feeder=feeder, start=minutes_ago(4, now), end=minutes_ago(1, now)).values_list(
            "measured_at", flat=True
        )
    )

    assert got == [minutes_ago(4, now), minutes_ago(3, now), minutes_ago(2, now)]


def test_monitor_token_command_issues_and_revokes(feeder):
    from io import StringIO

    from django.core.management import call_command
    from django.core.management.base import CommandError

    out = StringIO()
    call_command("monitor_token", name="pole-9", monitor_device_id="MON-A", stdout=out)
    token = out.getvalue().strip()
    assert monitor_token_authenticate(token=token).monitor_device_id == "MON-A"

    call_command("monitor_token", revoke="pole-9", stdout=StringIO())

    assert monitor_token_authenticate(token=token) is None
    with pytest.raises(CommandError, match="already exists"):
        call_command("monitor_token", name="pole-9", stdout=StringIO())


def test_reading_push_carries_the_newest_reading_in_utc(
    feeder, head_end_token, post_telemetry, django_capture_on_commit_callbacks, feeder_pushes
):
    now = timezone.now()
    rows = [
        reading("FDR-A", minutes_ago(2, now), [100.0, 120.0, 80.0], kw=69.0),
        reading("FDR-A", minutes_ago(3, now), 5),
    ]

    with django_capture_on_commit_callbacks(execute=True):
        post_telemetry(head_end_token, rows)

    pushed = [m["payload"] for m in feeder_pushes() if m["type"] == "feeder.reading"]
    assert pushed == [
        {
            "feeder_id": feeder.pk,
            "code": "FDR-A",
            "measured_at": minutes_ago(2, now).isoformat(),
            "amps": [100.0, 120.0, 80.0],
            "kw": 69.0,
            "load_percent": 30.0,
            "status": "normal",
        }
    ]


def test_a_feeder_page_gets_its_own_feeders_readings_only(
    feeder, other_feeder, head_end_token, post_telemetry, django_capture_on_commit_callbacks
):
    import asyncio

    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    from core.push import feeder_group

    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(feeder_group(other_feeder.pk), channel)
    at = minutes_ago(1)

    with django_capture_on_commit_callbacks(execute=True):
        post_telemetry(head_end_token, [reading("FDR-A", at, 10.0), reading("FDR-B", at, 20.0)])

    async def drain() -> list[dict]:
        got = []
        while True:
            try:
                got.append(await asyncio.wait_for(layer.receive(channel), timeout=0.3))
            except TimeoutError:
                return got

    received = async_to_sync(drain)()
    async_to_sync(layer.group_discard)(feeder_group(other_feeder.pk), channel)
    assert [(m["type"], m["payload"]["code"]) for m in received] == [("feeder.reading", "FDR-B")]


def test_a_head_end_batch_sends_the_overview_one_list(
    head_end_token, post_telemetry, django_capture_on_commit_callbacks, feeder_pushes
):
    from feeders.events import FEEDERS_ALL_SINGLE_LIMIT

    codes = [FeederFactory(code=f"FDR-H{i:03d}").code for i in range(FEEDERS_ALL_SINGLE_LIMIT + 1)]
    at = minutes_ago(1)

    with django_capture_on_commit_callbacks(execute=True):
        post_telemetry(head_end_token, [reading(code, at, 40.0) for code in codes])

    pushed = feeder_pushes()
    assert [m["type"] for m in pushed] == ["feeder.readings"]
    assert sorted(r["code"] for r in pushed[0]["payload"]["readings"]) == codes
    assert all(
        r["load_percent"] == 10.0 and r["measured_at"] == at.isoformat() for r in pushed[0]["payload"]["readings"]
    )
