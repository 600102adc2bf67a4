"""The operator's changes to a feeder: automatic curtailment on/off and alert
acknowledgement, as services (compare-and-set, audited, pushed on commit)."""

from __future__ import annotations

import pytest
from django.utils import timezone

from core.models import AuditEntry
from feeders.choices import AlertKind
from feeders.models import Feeder, FeederAlert
from feeders.services import alert_acknowledge, feeder_automatic_set

pytestmark = pytest.mark.django_db


@pytest.fixture
def open_alert(feeder) -> FeederAlert:
    return FeederAlert.objects.create(
        feeder=feeder, kind=AlertKind.THRESHOLD, raised_at=timezone.now(), load_percent=93.0
    )


def test_automatic_off_changes_the_feeder_audits_and_pushes_once(
    feeder, engineer, django_capture_on_commit_callbacks, feeder_pushes
):
    Feeder.objects.filter(pk=feeder.pk).update(automatic_curtailment=True)
    feeder.refresh_from_db()

    with django_capture_on_commit_callbacks(execute=True):
        first = feeder_automatic_set(feeder=feeder, enabled=False, reason="cable works", changed_by=engineer)
    with django_capture_on_commit_callbacks(execute=True):
        second = feeder_automatic_set(feeder=feeder, enabled=False, reason="again", changed_by=engineer)

    assert (first, second) == (True, False)
    assert Feeder.objects.get(pk=feeder.pk).automatic_curtailment is False
    entry = AuditEntry.objects.get(action="feeder.automatic_off")
    assert (entry.actor_user, entry.reason) == (engineer, "cable works")
    updates = [m["payload"] for m in feeder_pushes() if m["type"] == "feeder.updated"]
    assert updates == [
        {
            "feeder_id": feeder.pk,
            "code": feeder.code,
            "change": "automatic_curtailment",
            "automatic_curtailment": False,
            "alert_id": None,
            "acknowledged_at": None,
        }
    ]


def test_automatic_on_is_audited_as_on(feeder, engineer):
    Feeder.objects.filter(pk=feeder.pk).update(automatic_curtailment=False)

    assert feeder_automatic_set(feeder=feeder, enabled=True, reason="works done", changed_by=engineer) is True

    assert Feeder.objects.get(pk=feeder.pk).automatic_curtailment is True
    assert AuditEntry.objects.filter(action="feeder.automatic_on").count() == 1


def test_alert_is_acknowledged_once_audited_and_pushed(
    open_alert, operator, engineer, django_capture_on_commit_callbacks, feeder_pushes
):
    with django_capture_on_commit_callbacks(execute=True):
        first = alert_acknowledge(alert=open_alert, reason="seen on SCADA", acknowledged_by=operator)
    with django_capture_on_commit_callbacks(execute=True):
        second = alert_acknowledge(alert=open_alert, reason="me too", acknowledged_by=engineer)

    assert (first, second) == (True, False)
    stored = FeederAlert.objects.get(pk=open_alert.pk)
    assert stored.acknowledged_by == operator
    assert stored.acknowledged_at is not None
    entry = AuditEntry.objects.get(action="alert.acknowledge")
    assert (entry.actor_user, entry.reason, entry.inputs["alert_id"]) == (operator, "seen on SCADA", open_alert.pk)
    updates = [m["payload"] for m in feeder_pushes() if m["type"] == "feeder.updated"]
    assert len(updates) == 1
    assert updates[0]["change"] == "alert_acknowledged"
    assert updates[0]["alert_id"] == open_alert.pk
    assert updates[0]["acknowledged_at"] == stored.acknowledged_at.isoformat()
