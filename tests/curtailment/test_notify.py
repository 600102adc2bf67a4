"""The engine tells each customer what it did to their charger: a limited APC charger is
slowed to its level (and the kW that allows), a switched-off one is paused."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from consent.models import Notification
from curtailment.choices import ActionKind, ActionStatus
from curtailment.models import CurtailmentAction, CurtailmentEvent
from curtailment.services.notify import customers_notify
from tests.consent.factories import eligible_charger
from tests.feeders.factories import FeederFactory

pytestmark = pytest.mark.django_db


def _confirmed(event, charger, **fields) -> CurtailmentAction:
    at = event.started_at + dt.timedelta(seconds=30)
    return CurtailmentAction.objects.create(
        event=event,
        hcalcs=charger,
        status=ActionStatus.CONFIRMED,
        planned_minutes=40,
        started_at=event.started_at,
        confirmed_at=at,
        expected_end_at=at + dt.timedelta(minutes=40),
        **fields,
    )


def test_a_limited_charger_is_told_its_level_and_kw_and_a_switched_off_one_is_paused():
    feeder = FeederFactory()
    apc = eligible_charger(feeder=feeder, controller_type="apc", rated_kw=11.0)
    hcalcs = eligible_charger(feeder=feeder)
    now = timezone.now()
    event = CurtailmentEvent.objects.create(
        feeder=feeder,
        trigger="automatic",
        started_at=now,
        planned_end_at=now + dt.timedelta(hours=1),
        required_reduction_kw=10,
    )
    _confirmed(event, apc, kind=ActionKind.LIMIT, level_percent=48, demand_kw=11.0, expected_kw=5.72)
    _confirmed(event, hcalcs, expected_kw=7.0)

    assert customers_notify(event=event, hcalcs_ids=[apc.pk, hcalcs.pk]) == []

    limited = Notification.objects.get(event=event, premise=apc.meter.premise)
    assert "48 % of its maximum (about 5.3 kW)" in " ".join(limited.body.split())
    assert "limited to 48 % (about 5.3 kW)" in limited.subject
    assert "paused" not in limited.body.lower() and "paused" not in limited.subject.lower()
    assert limited.controls == {"paused": 0, "limits": [{"level_percent": 48, "limit_kw": 5.28}]}
    paused = Notification.objects.get(event=event, premise=hcalcs.meter.premise)
    assert "paused your EV charger" in paused.body and "limited" not in paused.body
    assert paused.controls == {"paused": 1, "limits": []}
