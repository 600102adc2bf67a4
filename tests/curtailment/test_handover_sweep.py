"""Never lose an alert: the sweep re-sends the engine hand-over of alerts that got no
event (the broker was down when they committed), audited, and leaves alone the ones the
engine already handled."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from core.models import AuditEntry
from curtailment.models import CurtailmentEvent
from curtailment.services import HANDOVER_RULE, alerts_handover_sweep
from curtailment.tasks import event_open_for_alert
from dnoctl.celery import app
from feeders.choices import AlertKind
from feeders.models import FeederAlert
from tests.consent.factories import eligible_charger
from tests.curtailment.factories import open_event
from tests.feeders.factories import FeederFactory

pytestmark = pytest.mark.django_db


def _alert(feeder, *, seconds_ago: float = 60.0) -> FeederAlert:
    return FeederAlert.objects.create(
        feeder=feeder,
        kind=AlertKind.THRESHOLD,
        raised_at=timezone.now() - timedelta(seconds=seconds_ago),
        load_percent=96.0,
    )


def _sweep_audits() -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(actor=f"rule:{HANDOVER_RULE}"))


def test_alert_without_event_is_handed_over_again_and_the_engine_opens_its_event(queued_tasks):
    feeder = FeederFactory(high_risk=True, automatic_curtailment=True)
    eligible_charger(feeder=feeder)
    alert = _alert(feeder)

    assert alerts_handover_sweep() == [alert.pk]

    assert queued_tasks() == [(event_open_for_alert.name, {"alert_id": alert.pk})]
    [entry] = _sweep_audits()
    assert (entry.action, entry.target_id, entry.inputs["feeder"]) == (
        "alert.handover_resent",
        str(alert.pk),
        feeder.code,
    )
    # The queued task, run here as a worker would: the event the lost hand-over should have opened.
    event_id = event_open_for_alert.apply(kwargs={"alert_id": alert.pk}).get()
    event = CurtailmentEvent.objects.get(pk=event_id)
    assert (event.feeder_id, event.alert_id) == (feeder.pk, alert.pk)
    # Handled now: later sweeps leave it alone, even past the re-send interval.
    assert alerts_handover_sweep(now=timezone.now() + timedelta(minutes=10)) == []


def test_alert_with_an_open_event_on_its_feeder_is_left_alone(queued_tasks):
    busy_feeder = FeederFactory(high_risk=True, automatic_curtailment=True)
    _alert(busy_feeder)
    open_event(feeder=busy_feeder)

    assert alerts_handover_sweep() == []

    assert queued_tasks() == []
    assert _sweep_audits() == []


def test_alert_still_open_after_its_event_ended_is_handed_over_again(queued_tasks):
    """Issue 15: the load may stay between the clear and at-risk levels after the event
    ends, raising no new alert; the engine must get to decide again."""
    feeder = FeederFactory(high_risk=True, automatic_curtailment=True)
    alert = _alert(feeder)
    ended = open_event(feeder=feeder, alert=alert, status="ended", ended_at=timezone.now())
    assert ended.alert_id == alert.pk

    assert alerts_handover_sweep() == [alert.pk]

    assert queued_tasks() == [(event_open_for_alert.name, {"alert_id": alert.pk})]


def test_young_cleared_manual_feeder_and_engine_decided_alerts_are_not_resent(queued_tasks):
    young = _alert(FeederFactory(high_risk=True, automatic_curtailment=True), seconds_ago=5)
    cleared = _alert(FeederFactory(high_risk=True, automatic_curtailment=True))
    FeederAlert.objects.filter(pk=cleared.pk).update(cleared_at=timezone.now())
    _alert(FeederFactory(high_risk=True, automatic_curtailment=False))
    _alert(FeederFactory(high_risk=False, automatic_curtailment=True))
    decided = _alert(FeederFactory(high_risk=True, automatic_curtailment=True))
    # The engine ran and decided not to curtail (audited on the alert): not lost.
    AuditEntry.objects.create(
        at=timezone.now(),
        actor="rule:auto-curtail",
        action="event.not_started",
        target_type="feeders.feederalert",
        target_id=str(decided.pk),
    )

    assert alerts_handover_sweep() == []

    assert queued_tasks() == []
    # Once old enough, the young one is re-sent.
    assert alerts_handover_sweep(now=timezone.now() + timedelta(seconds=60)) == [young.pk]


def test_resent_alert_is_not_resent_every_sweep_while_the_worker_catches_up(queued_tasks):
    alert = _alert(FeederFactory(high_risk=True, automatic_curtailment=True))

    assert alerts_handover_sweep() == [alert.pk]
    assert alerts_handover_sweep(now=timezone.now() + timedelta(seconds=30)) == []
    assert alerts_handover_sweep(now=timezone.now() + timedelta(minutes=3)) == [alert.pk]

    assert len(queued_tasks()) == 2
    assert len(_sweep_audits()) == 2


def test_broker_still_down_audits_nothing_and_the_next_sweep_retries(queued_tasks, monkeypatch):
    alert = _alert(FeederFactory(high_risk=True, automatic_curtailment=True))

    def broker_down(*args, **kwargs):
        raise ConnectionError("broker unreachable")

    monkeypatch.setattr(event_open_for_alert, "apply_async", broker_down)
    assert alerts_handover_sweep() == []
    assert _sweep_audits() == []
    monkeypatch.undo()

    assert alerts_handover_sweep() == [alert.pk]
    assert queued_tasks() == [(event_open_for_alert.name, {"alert_id": alert.pk})]


def test_sweep_task_resends_and_counts(queued_tasks):
    from curtailment import tasks

    alert = _alert(FeederFactory(high_risk=True, automatic_curtailment=True))

    assert tasks.alerts_handover_sweep_task.apply().get() == 1
    assert queued_tasks() == [(event_open_for_alert.name, {"alert_id": alert.pk})]


def test_sweep_runs_on_the_beat_schedule():
    from curtailment import tasks  # what the worker's autodiscovery imports

    assert tasks.alerts_handover_sweep_task.name == "curtailment.tasks.alerts_handover_sweep"
    entry = app.conf.beat_schedule["curtailment-alerts-handover-sweep"]

    assert entry["task"] == "curtailment.tasks.alerts_handover_sweep"
    assert "curtailment.tasks.alerts_handover_sweep" in app.tasks
