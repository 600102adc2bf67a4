"""A limit action through the real services, the DCC client and the simulator over HTTP
(issue 17): its 7.16 holds the APC at the planned level, the device's answer confirms it
(the ledger starts there), a level change replaces it, and the release lifts it (7.16 at
100 %) and ends the action when the device answers; a 7.16 the device refuses fails the
action and a replacement is picked."""

from __future__ import annotations

import datetime as dt

import pytest

from core.models import AuditEntry
from curtailment.choices import ActionKind, ActionStatus
from curtailment.models import CurtailmentAction
from curtailment.services import curtailment_event_cancel, curtailment_event_start
from curtailment.services.action import action_dispatch, action_limit_change, action_release
from dcc.models import ServiceRequest
from dcc.simulator import SimulatedDevice
from tests.consent.factories import eligible_charger
from tests.feeders.factories import FeederFactory

from .conftest import wait_until

pytestmark = pytest.mark.django_db

APC = "00-DB-12-34-56-78-90-D0"  # switch 1 an HCALCS, switch 2 an APC before an 11 kW charger


@pytest.fixture
def apc(simulator):
    simulator.add_device(SimulatedDevice(eui64=APC, switch_indexes=(1, 2), apc_indexes=(2,), apc_max_kw=11.0))
    return simulator


@pytest.fixture
def limit(apc, dcc_settings, operator):
    """A manual event on a feeder whose one eligible charger is the simulated APC (index 2,
    on its boost button already): the event limits it, dispatch not yet run."""
    feeder = FeederFactory()
    charger = eligible_charger(
        feeder=feeder, switch_index=2, rated_kw=11.0, controller_type="apc", on_boost_button=True
    )
    charger.meter.esme_eui64 = APC
    charger.meter.save()
    event = curtailment_event_start(
        feeder=feeder, reduction_kw=4, duration_minutes=30, reason="apc test", requested_by=operator
    )
    return event.actions.get()


def _answer(receiver, request: ServiceRequest) -> bytes:
    [document] = wait_until(
        lambda: [d for d in list(receiver.documents) if f">{request.request_id}</sr:RequestID>".encode() in d]
    )
    return document


def _post(client, document: bytes, capture) -> bytes:
    with capture(execute=True):
        return client.post("/dcc/responses/", data=document, content_type="application/xml").content


def _switch(simulator, index: int = 2) -> dict:
    return simulator.device_state(APC)["switches"][str(index)]


def test_a_limit_is_a_7_16_at_its_level_confirmed_by_the_device_and_lifted_on_release(
    limit, apc, receiver, client, django_capture_on_commit_callbacks, operator
):
    assert (limit.kind, limit.level_percent) == (ActionKind.LIMIT, 63)  # 11 kW held to 6.93 kW: 4.07 kW withheld
    assert limit.expected_kw == pytest.approx(4.07)

    assert action_dispatch(action_id=limit.pk) == "acknowledged"

    assert list(ServiceRequest.objects.filter(action=limit).values_list("srv", flat=True)) == ["7.16"]
    command = ServiceRequest.objects.get(action=limit, srv="7.16")
    limit.refresh_from_db()
    assert limit.commanded_minutes == 29
    end = limit.expected_end_at
    assert _post(client, _answer(receiver, command), django_capture_on_commit_callbacks) == b"applied\n"
    limit.refresh_from_db()
    assert limit.status == ActionStatus.CONFIRMED and limit.confirmed_at is not None
    assert limit.expected_end_at == end  # a 7.16 ends at its EndDateTime, whenever confirmed
    switch = _switch(apc)
    assert (switch["state"], switch["level"], switch["charger_kw"]) == ("limited", 63, 6.93)
    assert _switch(apc, 1)["state"] == "on"  # nothing switched off: no 7.6 was sent

    # The closed loop lowers it: a new 7.16 replaces the limit on the device.
    CurtailmentAction.objects.filter(pk=limit.pk).update(level_percent=50)
    assert action_limit_change(action_id=limit.pk) == "acknowledged"
    change = ServiceRequest.objects.filter(action=limit, srv="7.16").order_by("pk").last()
    assert change.pk != command.pk
    assert _post(client, _answer(receiver, change), django_capture_on_commit_callbacks) == b"applied\n"
    assert _switch(apc)["level"] == 50
    assert AuditEntry.objects.filter(action="action.limit_change_applied", target_id=str(limit.pk)).exists()
    limit.refresh_from_db()
    assert limit.status == ActionStatus.CONFIRMED  # a change's answer neither confirms nor ends

    with django_capture_on_commit_callbacks(execute=False):
        curtailment_event_cancel(event=limit.event, reason="test over", cancelled_by=operator)
    assert action_release(action_id=limit.pk) == "acknowledged"
    limit.refresh_from_db()
    lift = limit.lift_request
    assert lift is not None and lift.srv == "7.16"
    assert not ServiceRequest.objects.filter(action=limit, srv__in=["7.6", "7.8"]).exists()
    assert _post(client, _answer(receiver, lift), django_capture_on_commit_callbacks) == b"applied\n"
    limit.refresh_from_db()
    assert limit.status == ActionStatus.ENDED and limit.end_reason == "cancelled"
    assert limit.confirmed_at < limit.ended_at < end
    switch = _switch(apc)
    assert (switch["state"], switch["level"], switch["charger_kw"]) == ("on", 100, 11.0)


def test_a_7_16_the_device_refuses_fails_the_action(
    apc, dcc_settings, operator, receiver, client, django_capture_on_commit_callbacks
):
    feeder = FeederFactory()
    # Registered as an APC, but the device has only an HCALCS at index 1: it refuses a 7.16.
    charger = eligible_charger(
        feeder=feeder, switch_index=1, rated_kw=11.0, controller_type="apc", on_boost_button=True
    )
    charger.meter.esme_eui64 = APC
    charger.meter.save()
    event = curtailment_event_start(
        feeder=feeder, reduction_kw=4, duration_minutes=30, reason="t", requested_by=operator
    )
    action = event.actions.get()
    action_dispatch(action_id=action.pk)
    command = ServiceRequest.objects.get(action=action, srv="7.16")

    _post(client, _answer(receiver, command), django_capture_on_commit_callbacks)

    action.refresh_from_db()
    assert action.status == ActionStatus.FAILED and action.end_reason == "failed"
    assert AuditEntry.objects.filter(action="action.failed", target_id=str(action.pk)).exists()
    assert _switch(apc, 1)["state"] == "on"
    assert action.ended_at - action.started_at < dt.timedelta(minutes=1)


def test_a_late_limit_is_lifted_and_counted_from_the_dccs_acceptance(
    limit, apc, receiver, client, django_capture_on_commit_callbacks
):
    """No device answer to the 7.16 in time: the APC's level cannot be read back, so the
    limit is lifted (the state becomes known) and counted from the DCC's acceptance."""
    from curtailment.services.action import action_mark_late, action_switch_read

    assert action_dispatch(action_id=limit.pk) == "acknowledged"
    command = ServiceRequest.objects.get(action=limit, srv="7.16")
    limit.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=False):
        assert action_mark_late(action=limit, now=limit.started_at + dt.timedelta(minutes=5))
    assert _switch(apc)["state"] == "limited"  # the device took it; its answer is lost

    with django_capture_on_commit_callbacks(execute=False) as queued:
        assert action_switch_read(action_id=limit.pk) == "lifting"
    assert queued  # the lift is queued on commit
    limit.refresh_from_db()
    assert limit.status == ActionStatus.RELEASING and limit.end_reason == "late"
    assert limit.confirmed_at == command.acknowledged_at
    assert AuditEntry.objects.filter(action="action.late_limit_lifted", target_id=str(limit.pk)).exists()
    assert not ServiceRequest.objects.filter(action=limit, srv="7.7").exists()  # 7.7 cannot see an APC

    assert action_release(action_id=limit.pk) == "acknowledged"
    limit.refresh_from_db()
    assert _post(client, _answer(receiver, limit.lift_request), django_capture_on_commit_callbacks) == b"applied\n"
    limit.refresh_from_db()
    assert (limit.status, limit.end_reason) == (ActionStatus.ENDED, "late")
    assert limit.confirmed_at < limit.ended_at < limit.expected_end_at
    assert (_switch(apc)["state"], _switch(apc)["level"]) == ("on", 100)

    # The late answer to the first 7.16 arrives after all: nothing moves.
    _post(client, _answer(receiver, command), django_capture_on_commit_callbacks)
    limit.refresh_from_db()
    assert (limit.status, limit.end_reason) == (ActionStatus.ENDED, "late")


def test_a_late_limit_the_dcc_never_accepted_is_not_lifted(limit):
    from curtailment.services.action import action_mark_late, action_switch_read

    assert not ServiceRequest.objects.filter(action=limit).exists()  # dispatch never reached the DCC
    CurtailmentAction.objects.filter(pk=limit.pk).update(status=ActionStatus.SENT)
    limit.refresh_from_db()
    assert action_mark_late(action=limit, now=limit.started_at + dt.timedelta(minutes=5))

    assert action_switch_read(action_id=limit.pk) == "no accepted 7.16"
    limit.refresh_from_db()
    assert limit.status == ActionStatus.LATE and limit.confirmed_at is None
