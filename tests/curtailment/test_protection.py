"""The protection check (``curtailment.services.protection``): the time-to-failure clock of
each at-risk feeder, the escalation when relief is not confirmed in time (more chargers,
the ASP, the operator), the "every charger at its limit" prompt and invariant 8's "or the
operator has been told". Database only; times are passed in as ``now``."""

import asyncio
import datetime as dt

import pytest
from asgiref.sync import async_to_sync
from channels.layers import DEFAULT_CHANNEL_LAYER, channel_layers
from django.db import transaction

from core.models import AuditEntry
from core.push import feeder_group
from curtailment.choices import ClockState, EscalationStage
from curtailment.events import PROTECTION_CLOCK
from curtailment.models import AspCallOff, AspContract, CurtailmentAction, CurtailmentEvent, FailureClock
from curtailment.services import curtailment_event_cancel, event_open_for_alert, feeder_protection_check
from tests.curtailment.asp_factories import asp_ven
from tests.curtailment.helpers import alert_on, automatic_feeder, devices_confirm, reading

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 3, 10, 17, 0, tzinfo=dt.UTC)


def _at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def _rising_to_95_percent(feeder) -> None:
    """Readings every minute from 90 % to 95 %: 1 % a minute, five minutes from the rating."""
    for minute, percent in enumerate((90, 91, 92, 93, 94, 95)):
        reading(feeder, percent=percent, at=T0 - dt.timedelta(minutes=5 - minute))


def _event(chargers: int):
    feeder, made = automatic_feeder(chargers=chargers)
    _rising_to_95_percent(feeder)
    alert = alert_on(feeder, percent=95, at=T0)
    event = event_open_for_alert(alert_id=alert.pk, at=T0)
    return feeder, made, alert, event


def _audits(action: str, event) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(action=action, target_id=str(event.pk)))


def test_unconfirmed_relief_escalates_to_more_chargers_then_the_asp_then_the_operator():
    feeder, _made, _alert, event = _event(chargers=6)
    first = set(event.actions.values_list("pk", flat=True))
    assert len(first) == 2

    assert feeder_protection_check(feeder_id=feeder.pk, now=_at(10)) == EscalationStage.WAITING
    clock = FailureClock.objects.get(feeder=feeder)
    assert (clock.state, clock.event_id, clock.relieved) == (ClockState.RISING, event.pk, False)
    assert clock.minutes_to_rating == pytest.approx(5.0 - 10 / 60, abs=0.05)
    assert clock.minutes_to_failure == pytest.approx(clock.minutes_to_rating + 5.0)
    # Under five minutes to the rating, three stages to go: a third of it each, from the start.
    waited = (clock.relief_due_at - T0).total_seconds()
    assert waited == pytest.approx(clock.minutes_to_rating * 60 / 3)
    assert clock.alarm == ""

    # Nothing confirmed by the deadline: chargers are added for the unconfirmed kW.
    assert feeder_protection_check(feeder_id=feeder.pk, now=_at(101)) == EscalationStage.CHARGERS
    added = set(event.actions.values_list("pk", flat=True)) - first
    assert len(added) == 2
    [chargers] = _audits("escalation.chargers", event)
    assert chargers.inputs["added_actions"] == sorted(added)
    assert chargers.actor == "rule:protection"

    # An ASP contract with 3 kW left covers the feeder: asked for the shortfall, it gives 3.
    ven, _ = asp_ven(name="flex-ven")
    AspContract.objects.create(
        provider="Flex Ltd",
        reference="ASP-9",
        starts_at=T0,
        ends_at=T0 + dt.timedelta(days=1),
        available_kw=3,
        ven=ven,
    ).feeders.add(feeder)
    clock.refresh_from_db()
    assert feeder_protection_check(feeder_id=feeder.pk, now=clock.relief_due_at) == EscalationStage.ASP
    assert AspCallOff.objects.get(event=event).kw == 3
    [asp] = _audits("escalation.asp", event)
    assert asp.inputs["asked_kw"] == 3

    clock.refresh_from_db()
    assert feeder_protection_check(feeder_id=feeder.pk, now=clock.relief_due_at) == EscalationStage.OPERATOR
    clock.refresh_from_db()
    assert clock.relief_due_at is None
    # The ASP was asked but reported no delivery: its 3 kW are not counted as relief.
    assert "not confirmed in time: 0.0 of" in clock.alarm
    assert "Left: 2 eligible charger(s) with allowance, 0.0 kW of ASP contracts uncalled" in clock.alarm
    assert len(_audits("escalation.alarm", event)) == 1
    # The same state checked again is no new decision.
    feeder_protection_check(feeder_id=feeder.pk, now=_at(400))
    assert len(_audits("escalation.alarm", event)) == 1

    # The devices confirm at last: relief, the alarm goes, and the audit trail says so.
    devices_confirm(event)
    assert feeder_protection_check(feeder_id=feeder.pk, now=_at(420)) == EscalationStage.WAITING
    clock.refresh_from_db()
    assert (clock.relieved, clock.alarm) == (True, "")
    assert len(_audits("escalation.relieved", event)) == 1


def test_confirmed_relief_on_time_escalates_nothing():
    feeder, _made, _alert, event = _event(chargers=4)
    devices_confirm(event)
    for seconds in (10, 120, 400):
        assert feeder_protection_check(feeder_id=feeder.pk, now=_at(seconds)) == EscalationStage.WAITING
    assert not AuditEntry.objects.filter(action__startswith="escalation.").exists()
    assert event.actions.count() == 2


def test_a_step_with_nothing_to_do_passes_at_once_to_the_next():
    """No other charger and no ASP: past the first deadline the operator is alarmed at once."""
    feeder, _made, _alert, event = _event(chargers=2)
    feeder_protection_check(feeder_id=feeder.pk, now=_at(10))
    assert feeder_protection_check(feeder_id=feeder.pk, now=_at(101)) == EscalationStage.OPERATOR
    assert [len(_audits(a, event)) for a in ("escalation.chargers", "escalation.asp", "escalation.alarm")] == [1, 1, 1]


def test_every_charger_at_its_limit_prompts_the_operator_once():
    feeder, (only,), _alert, event = _event(chargers=1)
    devices_confirm(event)  # 7 kW confirmed of the 12 kW needed: no other charger to call

    feeder_protection_check(feeder_id=feeder.pk, now=_at(10))
    feeder_protection_check(feeder_id=feeder.pk, now=_at(25))

    clock = FailureClock.objects.get(feeder=feeder)
    assert clock.exhausted
    assert "Every eligible charger on" in clock.alarm and "mobile generation or a load transfer" in clock.alarm
    [prompt] = _audits("protection.exhausted", event)
    assert prompt.inputs["shortfall_kw"] == pytest.approx(event.required_reduction_kw - only.rated_kw)


def test_an_open_alert_left_without_an_event_tells_the_operator_why(operator):
    feeder, _made, alert, event = _event(chargers=3)
    curtailment_event_cancel(event=event, reason="crew on site", cancelled_by=operator)
    CurtailmentAction.objects.filter(event=event).update(status="ended", ended_at=_at(5))
    CurtailmentEvent.objects.filter(pk=event.pk).update(status="ended", ended_at=_at(5))

    assert feeder_protection_check(feeder_id=feeder.pk, now=_at(30)) == EscalationStage.OPERATOR

    clock = FailureClock.objects.get(feeder=feeder)
    assert clock.event_id is None and clock.alert_id == alert.pk
    assert "at risk with no curtailment event: an operator cancelled event" in clock.alarm
    assert AuditEntry.objects.filter(action="protection.unprotected", target_id=str(alert.pk)).count() == 1


def test_an_alert_whose_hand_over_was_lost_gets_its_event_from_the_protection_check():
    feeder, _made = automatic_feeder(chargers=3)
    _rising_to_95_percent(feeder)
    alert = alert_on(feeder, percent=95, at=T0)

    feeder_protection_check(feeder_id=feeder.pk, now=_at(20))

    event = CurtailmentEvent.objects.get(feeder=feeder)
    assert (event.alert_id, event.status) == (alert.pk, "active")
    assert FailureClock.objects.get(feeder=feeder).event_id == event.pk


def test_a_feeder_without_automatic_curtailment_gets_its_clock_but_no_event_and_no_alarm():
    feeder, _made = automatic_feeder(chargers=3, automatic_curtailment=False)
    _rising_to_95_percent(feeder)
    alert_on(feeder, percent=95, at=T0)

    feeder_protection_check(feeder_id=feeder.pk, now=_at(20))

    clock = FailureClock.objects.get(feeder=feeder)
    assert (clock.state, clock.alarm, clock.event_id) == (ClockState.RISING, "", None)
    assert not CurtailmentEvent.objects.filter(feeder=feeder).exists()


def test_the_clock_goes_when_the_risk_is_over_and_an_alarm_still_shown_is_resolved():
    feeder, _made, alert, event = _event(chargers=2)
    feeder_protection_check(feeder_id=feeder.pk, now=_at(10))
    feeder_protection_check(feeder_id=feeder.pk, now=_at(101))  # operator alarm
    alert.cleared_at = _at(200)
    alert.save()
    CurtailmentAction.objects.filter(event=event).update(status="ended", ended_at=_at(200))
    CurtailmentEvent.objects.filter(pk=event.pk).update(status="ended", ended_at=_at(200))

    assert feeder_protection_check(feeder_id=feeder.pk, now=_at(210)) == "clear"

    assert not FailureClock.objects.filter(feeder=feeder).exists()
    assert AuditEntry.objects.filter(action="protection.clear", target_id=str(feeder.pk)).exists()


@pytest.mark.django_db(transaction=True)
def test_the_clock_is_pushed_to_the_feeders_group():
    feeder, _made, _alert, _opened = _event(chargers=2)
    layer = channel_layers.make_backend(DEFAULT_CHANNEL_LAYER)
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(feeder_group(feeder.pk), channel)
    try:
        with transaction.atomic():
            feeder_protection_check(feeder_id=feeder.pk, now=_at(10))

        async def clock_message():
            while True:
                message = await layer.receive(channel)
                if message["type"] == PROTECTION_CLOCK:
                    return message

        async def first_clock_message():
            return await asyncio.wait_for(clock_message(), 10)

        message = async_to_sync(first_clock_message)()
    finally:
        async_to_sync(layer.group_discard)(feeder_group(feeder.pk), channel)
    payload = message["payload"]
    assert (payload["feeder_id"], payload["state"], payload["cleared"]) == (feeder.pk, "rising", False)
    assert payload["minutes_to_rating"] == pytest.approx(4.8, abs=0.1)
