"""The DCC command budget (ADT): what counts, selection planning under it with the reason
recorded, the alarm before it is reached, and its configuration."""

import datetime as dt

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from core.models import AuditEntry
from curtailment.budget import command_budget
from curtailment.services import curtailment_event_start
from curtailment.services.budget import dcc_budget_check
from dcc.models import ServiceRequest
from dnoctl.settings import env_command_budget
from tests.consent.factories import eligible_charger
from tests.feeders.factories import FeederFactory

pytestmark = pytest.mark.django_db

_counter = iter(range(1, 10**6))


def _sent(srv: str, *, ago: dt.timedelta, count: int = 1) -> None:
    """``count`` requests of ``srv`` stored ``ago`` (whoever sent them)."""
    for _ in range(count):
        n = next(_counter)
        request = ServiceRequest.objects.create(
            request_id=f"90-B3-D5-1F-30-02-00-00:00-11-00-00-00-00-00-01:{n}",
            srv=srv,
            command_variant=1,
            originator_eui64="90-B3-D5-1F-30-02-00-00",
            target_eui64="00-11-00-00-00-00-00-01",
            counter=n,
            request_document="<x/>",
        )
        ServiceRequest.objects.filter(pk=request.pk).update(created_at=timezone.now() - ago)


@pytest.fixture
def budget(settings):
    settings.DNOCTL = {
        **settings.DNOCTL,
        "DCC_BUDGET": {"7.6": {"hour": 10, "day": 30}, "7.9": {"hour": 10, "day": 100}},
        "DCC_BUDGET_ALARM_PERCENT": 80.0,
    }


def test_the_budget_counts_each_period_and_the_commands_planned_actions_will_send(budget, operator):
    _sent("7.6", ago=dt.timedelta(minutes=10), count=3)
    _sent("7.6", ago=dt.timedelta(hours=5), count=4)
    _sent("7.6", ago=dt.timedelta(hours=30), count=9)  # outside both windows
    _sent("7.8", ago=dt.timedelta(minutes=1), count=2)  # no threshold configured
    feeder = FeederFactory()
    for _ in range(2):
        eligible_charger(feeder=feeder)  # override allowed, not on the boost button: 7.9 then 7.6
    curtailment_event_start(feeder=feeder, reduction_kw=10, duration_minutes=30, reason="t", requested_by=operator)

    lines = {(line.srv, line.period): line for line in command_budget(at=timezone.now()).lines}

    assert (lines["7.6", "hour"].sent, lines["7.6", "hour"].reserved, lines["7.6", "hour"].used) == (3, 2, 5)
    assert (lines["7.6", "day"].used, lines["7.6", "day"].remaining) == (9, 21)
    assert (lines["7.9", "hour"].used, lines["7.9", "day"].used) == (2, 2)
    assert ("7.8", "hour") not in lines
    assert command_budget(at=timezone.now()).remaining("7.6") == 5


def test_selection_defers_chargers_past_the_budget_and_records_why(budget, operator):
    _sent("7.6", ago=dt.timedelta(minutes=5), count=8)  # two 7.6 left this hour
    feeder = FeederFactory()
    for _ in range(4):
        eligible_charger(feeder=feeder)

    event = curtailment_event_start(
        feeder=feeder, reduction_kw=25, duration_minutes=30, reason="t", requested_by=operator
    )

    assert event.actions.count() == 2
    start = AuditEntry.objects.get(action="event.start", target_id=str(event.pk))
    assert start.inputs["deferred_by_dcc_budget"] == 2
    deferred = [c for c in start.inputs["candidates"] if c["deferred"]]
    assert len(deferred) == 2
    assert all(
        c["reason"] == "DCC command budget (ADT) for 7.6 reached: 10 of 10 this hour; deferred" for c in deferred
    )
    assert start.inputs["shortfall_kw"] == pytest.approx(25 - 14)


def test_a_charger_needing_a_7_9_waits_for_its_budget_while_one_on_the_boost_button_is_picked(budget, operator):
    _sent("7.9", ago=dt.timedelta(minutes=5), count=10)
    feeder = FeederFactory()
    needs_boost_setup = eligible_charger(feeder=feeder)
    ready = eligible_charger(feeder=feeder, on_boost_button=True)

    event = curtailment_event_start(
        feeder=feeder, reduction_kw=12, duration_minutes=30, reason="t", requested_by=operator
    )

    assert list(event.actions.values_list("hcalcs_id", flat=True)) == [ready.pk]
    start = AuditEntry.objects.get(action="event.start", target_id=str(event.pk))
    [skipped] = [c for c in start.inputs["candidates"] if c["hcalcs_id"] == needs_boost_setup.pk]
    assert skipped["deferred"] and "7.9 reached" in skipped["reason"]


def test_the_alarm_sounds_before_the_budget_is_reached_once_per_level(budget):
    _sent("7.6", ago=dt.timedelta(minutes=5), count=7)
    assert dcc_budget_check() == []
    _sent("7.6", ago=dt.timedelta(minutes=1))

    [line] = dcc_budget_check()
    assert (line.srv, line.period, line.used) == ("7.6", "hour", 8)
    [alarm] = AuditEntry.objects.filter(action="dcc_budget.alarm")
    assert alarm.actor == "rule:dcc-budget" and "8 of 10 commands this hour (80%" in alarm.reason
    dcc_budget_check()
    assert AuditEntry.objects.filter(action="dcc_budget.alarm").count() == 1

    _sent("7.6", ago=dt.timedelta(minutes=1), count=2)
    dcc_budget_check()
    assert AuditEntry.objects.get(action="dcc_budget.reached").inputs["percent"] == 100.0


def test_the_budget_setting_is_read_from_the_environment_and_a_bad_one_is_named(monkeypatch):
    monkeypatch.setenv("DNOCTL_DCC_BUDGET", "7.6=600/h,4000/d; 7.8=900/h")
    assert env_command_budget("DNOCTL_DCC_BUDGET", {}) == {"7.6": {"hour": 600, "day": 4000}, "7.8": {"hour": 900}}
    for bad in ("7.6=600", "7.6=600/w", "7.6=lots/h", "=5/h", "7.6=0/h"):
        monkeypatch.setenv("DNOCTL_DCC_BUDGET", bad)
        with pytest.raises(ImproperlyConfigured, match="DNOCTL_DCC_BUDGET"):
            env_command_budget("DNOCTL_DCC_BUDGET", {})


def test_an_apc_limit_spends_the_7_16_budget_not_the_7_6(settings, operator):
    settings.DNOCTL = {
        **settings.DNOCTL,
        "DCC_BUDGET": {"7.6": {"hour": 10}, "7.16": {"hour": 1}, "7.9": {"hour": 10}},
        "DCC_BUDGET_ALARM_PERCENT": 80.0,
    }
    feeder = FeederFactory()
    apcs = [eligible_charger(feeder=feeder, controller_type="apc", rated_kw=11.0) for _ in range(2)]
    event = curtailment_event_start(
        feeder=feeder, reduction_kw=8, duration_minutes=30, reason="t", requested_by=operator
    )

    # Both APCs would share the 8 kW, but the 7.16 budget allows one command this hour.
    [action] = event.actions.all()
    assert action.kind == "limit" and action.hcalcs_id in {c.pk for c in apcs}
    decisions = AuditEntry.objects.get(action="event.start", target_id=str(event.pk)).inputs["candidates"]
    assert any(d["deferred"] and "7.16" in d["reason"] for d in decisions)
    lines = {(line.srv, line.period): line for line in command_budget(at=timezone.now()).lines}
    assert (lines["7.16", "hour"].reserved, lines["7.6", "hour"].reserved) == (1, 0)
