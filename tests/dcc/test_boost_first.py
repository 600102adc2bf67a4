"""Boost first, really (issue 15): a charger whose customer may override goes on the boost
button (7.9) and is switched off (7.6) only once the device confirms it; when the 7.9 fails
the charger is not curtailed and another is picked, unless policy allows curtailing without
it, and then the customer's notice says the boost button will not work.

The engine's services run step by step against the DCC simulator over HTTP; the device's
answers come back through ``POST /dcc/responses/``.
"""

from __future__ import annotations

import pytest

from consent.models import Notification
from core.models import AuditEntry
from curtailment.services import curtailment_event_start
from curtailment.services.action import action_dispatch
from curtailment.services.notify import customers_notify
from dcc.models import ServiceRequest
from tests.consent.factories import HcalcsFactory, eligible_charger
from tests.feeders.factories import FeederFactory

from .conftest import HCALCS, wait_until

pytestmark = pytest.mark.django_db


@pytest.fixture
def chargers(dcc_settings):
    """Two chargers behind the simulated meter ``HCALCS``, one customer with override
    allowed: the first (picked first) not yet on the boost button, the second on it."""
    feeder = FeederFactory()
    first = eligible_charger(feeder=feeder, switch_index=1, rated_kw=7.0)
    first.meter.esme_eui64 = HCALCS
    first.meter.save()
    second = HcalcsFactory(meter=first.meter, switch_index=2, rated_kw=7.0, on_boost_button=True)
    return feeder, first, second


def _event(feeder, operator):
    return curtailment_event_start(
        feeder=feeder, reduction_kw=5, duration_minutes=30, reason="boost first", requested_by=operator
    )


def _answer(receiver, request: ServiceRequest) -> bytes:
    [document] = wait_until(
        lambda: [d for d in list(receiver.documents) if f">{request.request_id}</sr:RequestID>".encode() in d]
    )
    return document


def _post(client, document: bytes, capture) -> bytes:
    with capture(execute=True):  # the handlers run after the answer commits
        return client.post("/dcc/responses/", data=document, content_type="application/xml").content


def test_the_7_6_waits_until_the_device_has_put_the_charger_on_the_boost_button(
    chargers, operator, receiver, client, simulator, django_capture_on_commit_callbacks
):
    feeder, first, _second = chargers
    [action] = _event(feeder, operator).actions.all()
    assert action.hcalcs_id == first.pk

    assert action_dispatch(action_id=action.pk) == "waiting for the device to confirm the 7.9"
    action.refresh_from_db()
    assert action.status == "boost_setup"
    assert set(action.service_requests.values_list("srv", flat=True)) == {"7.9"}
    assert action_dispatch(action_id=action.pk) == "waiting for the device to confirm the 7.9"  # a rerun sends nothing

    boost = action.service_requests.get(srv="7.9")
    assert _post(client, _answer(receiver, boost), django_capture_on_commit_callbacks) == b"applied\n"
    first.refresh_from_db()
    assert first.on_boost_button

    assert action_dispatch(action_id=action.pk) == "acknowledged"
    deactivate = action.service_requests.get(srv="7.6")
    assert deactivate.counter > boost.counter
    assert simulator.device_state(HCALCS)["boost_button"] == [1]
    assert ServiceRequest.objects.filter(action=action, srv="7.9").count() == 1


def test_a_charger_whose_7_9_fails_is_not_curtailed_and_another_is_picked(chargers, operator, simulator):
    feeder, _first, second = chargers
    simulator.faults.force_code, simulator.faults.force_code_srv = "E5", "7.9"
    event = _event(feeder, operator)
    [action] = event.actions.all()

    assert action_dispatch(action_id=action.pk) == "not curtailed: the 7.9 failed"

    action.refresh_from_db()
    assert (action.status, action.end_reason, action.confirmed_at) == ("failed", "failed", None)
    assert not action.service_requests.filter(srv="7.6").exists()
    assert simulator.device_state(HCALCS)["commands_executed"] == 0
    audit = AuditEntry.objects.get(action="action.boost_setup_failed", target_id=str(action.pk))
    assert audit.inputs["curtail_without_boost"] is False and "another charger is picked" in audit.reason
    [replacement] = event.actions.exclude(pk=action.pk)
    assert replacement.hcalcs_id == second.pk
    top_up = AuditEntry.objects.get(action="event.top_up", target_id=str(event.pk))
    assert top_up.reason == f"replace failed action {action.pk}"
    # The replacement is on its boost button already: its dispatch is the 7.6 alone.
    assert action_dispatch(action_id=replacement.pk) == "acknowledged"
    assert set(replacement.service_requests.values_list("srv", flat=True)) == {"7.6"}
    # Nobody is told of a pause that did not happen; the replacement's customer is.
    customers_notify(event=event, hcalcs_ids=[action.hcalcs_id])
    assert not Notification.objects.filter(event=event).exists()


def test_policy_may_curtail_without_the_boost_button_and_the_notice_says_so(chargers, operator, simulator, settings):
    settings.DNOCTL = {**settings.DNOCTL, "CURTAIL_WITHOUT_BOOST": True}
    feeder, first, _second = chargers
    simulator.faults.force_code, simulator.faults.force_code_srv = "E5", "7.9"
    event = _event(feeder, operator)
    [action] = event.actions.all()

    assert action_dispatch(action_id=action.pk) == "acknowledged"

    assert set(action.service_requests.values_list("srv", "state")) == {("7.9", "rejected"), ("7.6", "acknowledged")}
    audit = AuditEntry.objects.get(action="action.boost_setup_failed", target_id=str(action.pk))
    assert audit.inputs["curtail_without_boost"] is True
    customers_notify(event=event, hcalcs_ids=[first.pk])
    [notice] = Notification.objects.filter(event=event)
    body = " ".join(notice.body.split())
    assert "boost button will not override it" in body and "press the boost button" not in body
    action.refresh_from_db()
    assert (notice.window_start, notice.window_end) == (action.started_at, action.expected_end_at)
