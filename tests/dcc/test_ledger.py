"""The ledger of what the devices did (issue 14), through the real services, the DCC client
and the simulator over HTTP: minutes count from the device's confirmation; an unconfirmed
action asks the device (7.7) before anything is decided; answers are applied exactly once,
even when their handler failed; every request reaches a final state; the device's Duration
and the recorded end agree."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from core.models import AuditEntry
from curtailment.models import CurtailmentAction
from curtailment.services import curtailment_event_start, event_recheck
from curtailment.services.action import action_dispatch, action_mark_late, action_switch_read
from curtailment.usage import WINDOW_24H, hcalcs_minutes_used
from dcc.choices import ServiceRequestState as State
from dcc.models import InboundDocument, InboundHandled, ServiceRequest
from dcc.services import handlers_replaced, inbound_handlers_retry, service_request_create, service_requests_expire
from tests.consent.factories import eligible_charger
from tests.feeders.factories import FeederFactory

from .conftest import HCALCS, wait_until

pytestmark = pytest.mark.django_db


@pytest.fixture
def action(dcc_settings, operator):
    """One charger behind the simulated meter ``HCALCS`` (switch 2), in a manual event,
    not yet dispatched (no broker here: the tests run each step themselves). It is on its
    boost button already (prepared ahead of events), so its dispatch is the 7.6 alone."""
    feeder = FeederFactory()
    charger = eligible_charger(feeder=feeder, switch_index=2, rated_kw=7.0, on_boost_button=True)
    charger.meter.esme_eui64 = HCALCS
    charger.meter.save()
    event = curtailment_event_start(
        feeder=feeder, reduction_kw=5, duration_minutes=30, reason="ledger test", requested_by=operator
    )
    return event.actions.get()


def _answer_of(receiver, request: ServiceRequest) -> bytes:
    [document] = wait_until(
        lambda: [d for d in list(receiver.documents) if f">{request.request_id}</sr:RequestID>".encode() in d]
    )
    return document


def _post(client, document: bytes, capture) -> bytes:
    with capture(execute=True):  # the handlers run after the answer commits
        return client.post("/dcc/responses/", data=document, content_type="application/xml").content


def _request(action: CurtailmentAction, srv: str) -> ServiceRequest:
    return ServiceRequest.objects.get(action=action, srv=srv)


def test_the_device_is_asked_for_whole_minutes_and_its_own_end_is_recorded(
    action, receiver, client, django_capture_on_commit_callbacks
):
    before = timezone.now()
    assert action_dispatch(action_id=action.pk) == "acknowledged"
    action.refresh_from_db()
    asked = action.commanded_minutes
    assert asked == 29  # whole minutes left of the 30-minute slot, rounded down
    assert (
        before + dt.timedelta(minutes=asked) <= action.expected_end_at <= timezone.now() + dt.timedelta(minutes=asked)
    )

    deactivate = _request(action, "7.6")
    assert _post(client, _answer_of(receiver, deactivate), django_capture_on_commit_callbacks) == b"applied\n"
    action.refresh_from_db()
    # The device reverts Duration after it acts: that is the end the ledger and the page use.
    assert action.status == "confirmed"
    assert action.expected_end_at == action.confirmed_at + dt.timedelta(minutes=asked)
    # Once it has run its course, the ledger holds exactly the minutes the device was asked for.
    event_recheck(event_id=action.event_id, now=action.expected_end_at + dt.timedelta(seconds=1))
    action.refresh_from_db()
    assert (action.end_reason, action.ended_at) == ("duration", action.confirmed_at + dt.timedelta(minutes=asked))
    later = action.expected_end_at + dt.timedelta(hours=1)
    assert (
        hcalcs_minutes_used(hcalcs_ids=[action.hcalcs_id], window_end=later, window=WINDOW_24H)[action.hcalcs_id]
        == asked
    )


def test_unconfirmed_action_asks_the_device_which_says_off_so_it_counts(
    action, receiver, client, django_capture_on_commit_callbacks
):
    action_dispatch(action_id=action.pk)
    deactivate = _request(action, "7.6")
    _answer_of(receiver, deactivate)  # the device acted, but its answer is lost on the way to us
    action.refresh_from_db()
    assert action_mark_late(action=action, now=action.started_at + dt.timedelta(minutes=5))

    assert action_switch_read(action_id=action.pk) == "acknowledged"
    read = _request(action, "7.7")
    assert _post(client, _answer_of(receiver, read), django_capture_on_commit_callbacks) == b"applied\n"
    action.refresh_from_db()
    deactivate.refresh_from_db()
    assert action.status == "confirmed"
    assert action.confirmed_at == deactivate.acknowledged_at  # it acted once the DCC had it
    assert AuditEntry.objects.filter(action="action.confirmed_by_read", target_id=str(action.pk)).exists()


def test_unconfirmed_action_whose_device_says_on_ends_counting_nothing(
    action, simulator, receiver, client, django_capture_on_commit_callbacks
):
    action_dispatch(action_id=action.pk)
    _answer_of(receiver, _request(action, "7.6"))
    simulator.devices.get(HCALCS).off_until.clear()  # the command never took effect on the meter
    action.refresh_from_db()
    action_mark_late(action=action, now=action.started_at + dt.timedelta(minutes=5))

    action_switch_read(action_id=action.pk)
    _post(client, _answer_of(receiver, _request(action, "7.7")), django_capture_on_commit_callbacks)
    action.refresh_from_db()
    assert (action.status, action.end_reason, action.confirmed_at) == ("ended", "unconfirmed", None)
    far = action.started_at + dt.timedelta(hours=1)
    assert hcalcs_minutes_used(hcalcs_ids=[action.hcalcs_id], window_end=far, window=WINDOW_24H)[action.hcalcs_id] == 0
    assert AuditEntry.objects.filter(action="action.unconfirmed", target_id=str(action.pk)).exists()


def test_an_action_never_confirmed_ends_unconfirmed_at_its_end_never_by_duration(action, receiver):
    action_dispatch(action_id=action.pk)
    _answer_of(receiver, _request(action, "7.6"))  # lost, and nobody asked the device
    action.refresh_from_db()
    event_recheck(event_id=action.event_id, now=action.expected_end_at + dt.timedelta(seconds=1))
    action.refresh_from_db()
    assert (action.status, action.end_reason) == ("ended", "unconfirmed")


def test_an_answer_whose_handler_failed_is_applied_by_the_retry_exactly_once(
    action, receiver, client, django_capture_on_commit_callbacks
):
    action_dispatch(action_id=action.pk)
    deactivate = _request(action, "7.6")

    def database_went_away(service_request, result):
        raise RuntimeError("terminating connection due to administrator command")

    with handlers_replaced(responses={"7.6": database_went_away}):
        assert _post(client, _answer_of(receiver, deactivate), django_capture_on_commit_callbacks) == b"applied\n"
    deactivate.refresh_from_db()
    action.refresh_from_db()
    assert deactivate.state == State.RESPONDED  # the answer is stored...
    assert action.status == "acknowledged"  # ...but the engine never heard of it
    kept = InboundDocument.objects.get(service_request=deactivate)
    assert not InboundHandled.objects.filter(document=kept).exists()

    assert inbound_handlers_retry(older_than=dt.timedelta(0)) == 1
    action.refresh_from_db()
    assert action.status == "confirmed"
    assert InboundHandled.objects.filter(document=kept).exists()
    assert inbound_handlers_retry(older_than=dt.timedelta(0)) == 0


def test_every_request_reaches_a_final_state(dcc_settings, simulator, receiver, client):
    never_sent = service_request_create(srv="7.7", target=HCALCS)
    unanswered = service_request_create(srv="7.7", target=HCALCS)
    from dcc.services import service_request_dispatch

    service_request_dispatch(service_request_id=unanswered.pk)
    fresh = service_request_create(srv="7.7", target=HCALCS)
    long_ago = timezone.now() - dt.timedelta(hours=2)
    ServiceRequest.objects.filter(pk=never_sent.pk).update(created_at=long_ago)
    ServiceRequest.objects.filter(pk=unanswered.pk).update(created_at=long_ago, acknowledged_at=long_ago)

    assert service_requests_expire() == 2
    assert service_requests_expire() == 0
    states = dict(ServiceRequest.objects.values_list("pk", "state"))
    assert (states[never_sent.pk], states[unanswered.pk], states[fresh.pk]) == (
        State.TIMED_OUT,
        State.TIMED_OUT,
        State.BUILT,
    )
    never_sent.refresh_from_db()
    assert never_sent.error == "not acknowledged by the DCC within 600.0 s"
    # A device answer arriving after the deadline still counts.
    client.post("/dcc/responses/", data=_answer_of(receiver, unanswered), content_type="application/xml")
    unanswered.refresh_from_db()
    assert unanswered.state == State.RESPONDED
