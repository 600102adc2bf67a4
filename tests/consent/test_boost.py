"""Boost-button setup through the DCC: 7.9 ahead of any event when the customer may
override, 7.10 when override permission is withdrawn."""

import datetime as dt

import pytest
from django.utils import timezone

from consent import boost, services
from consent.choices import ConsentStatus, LoadLabel
from consent.models import HCALCS, Consent
from core.models import AuditEntry
from dcc.models import ServiceRequest
from dcc.services import service_request_send
from tests.consent.factories import eligible_charger
from tests.dcc.conftest import wait_until as dcc_wait_until


def wait_until(condition):
    """The worker and the simulator answer through processes: a longer wait, polled less often."""
    return dcc_wait_until(condition, timeout=30.0, poll_s=0.05)


@pytest.mark.processes
@pytest.mark.django_db(transaction=True)
def test_withdrawing_override_permission_sends_7_10_through_the_simulator(live_stack, operator):
    """GIVEN a charger on the meter's boost button (7.9 sent, device confirmed)
    WHEN the customer's override permission is withdrawn
    THEN the worker sends 7.10 to the simulated meter over HTTP, the device takes the switch
    off its boost button, and on its confirmation ``on_boost_button`` turns False."""
    charger = eligible_charger(switch_index=2)
    meter = charger.meter
    live_stack.register_meters()
    service_request_send(srv="7.9", target=meter.esme_eui64, indexes=[2], hcalcs=charger)
    wait_until(lambda: live_stack.simulator.device_state(meter.esme_eui64)["boost_button"] == [2])
    HCALCS.objects.filter(pk=charger.pk).update(on_boost_button=True)  # what the engine does on 7.9's answer

    consent = Consent.objects.get(tenancy__premise=meter.premise)
    services.consent_override_set(consent=consent, override_allowed=False, set_by=operator, reason="customer asked")

    removal = wait_until(lambda: ServiceRequest.objects.filter(hcalcs=charger, srv="7.10").first())
    assert removal.target_eui64 == meter.esme_eui64
    wait_until(lambda: not HCALCS.objects.get(pk=charger.pk).on_boost_button)
    assert live_stack.simulator.device_state(meter.esme_eui64)["boost_button"] == []
    assert any(request_id == removal.request_id for request_id, _, _ in live_stack.simulator.received)
    removal.refresh_from_db()
    assert removal.state == "responded"


@pytest.mark.processes
@pytest.mark.django_db(transaction=True)
def test_reading_boost_details_on_demand_sends_7_11_and_shows_the_answer(live_stack, operator, client):
    """The operator's button queues SRV 7.11; the worker sends it to the simulated meter and
    the device's answer (the boost presses) appears on the premise page."""
    charger = eligible_charger(on_boost_button=True)
    meter = charger.meter
    live_stack.register_meters()
    live_stack.simulator.press_boost(meter.esme_eui64)
    client.force_login(operator)

    reply = client.post(f"/consent/hcalcs/{charger.pk}/boost-details/")
    assert reply.status_code == 302

    wait_until(lambda: boost.boost_details_get(hcalcs_id=charger.pk))
    details = boost.boost_details_get(hcalcs_id=charger.pk)
    assert details["ok"] and len(details["detail"]["presses"]) == 1
    request = ServiceRequest.objects.get(hcalcs=charger, srv="7.11")
    assert request.target_eui64 == meter.esme_eui64
    assert "1 press in 30 days" in client.get(f"/consent/premises/{meter.premise_id}/").content.decode()


@pytest.mark.django_db
def test_reconcile_finds_chargers_left_on_the_boost_button_against_consent():
    forbidden = eligible_charger(on_boost_button=True)
    Consent.objects.filter(tenancy__premise=forbidden.meter.premise).update(override_allowed=False)
    eligible_charger(on_boost_button=True)  # override still allowed: stays on
    eligible_charger(on_boost_button=False)
    assert boost.hcalcs_awaiting_boost_removal_ids() == [forbidden.pk]


def _stored_setup(charger, *, state: str, age: dt.timedelta = dt.timedelta(0)) -> ServiceRequest:
    """A 7.9 for ``charger`` as the DCC integration stores it, ``age`` old."""
    number = ServiceRequest.objects.count() + 1
    request = ServiceRequest.objects.create(
        request_id=f"90-B3-D5-1F-30-01-00-00:{charger.meter.esme_eui64}:{number}",
        srv="7.9",
        command_variant=1,
        originator_eui64="90-B3-D5-1F-30-01-00-00",
        target_eui64=charger.meter.esme_eui64,
        counter=number,
        hcalcs=charger,
        state=state,
        request_document="<Request/>",
    )
    ServiceRequest.objects.filter(pk=request.pk).update(created_at=timezone.now() - age)
    return request


@pytest.mark.django_db
def test_chargers_awaiting_setup_are_those_that_may_be_curtailed_and_overridden_and_are_not_on_it():
    ready = eligible_charger()
    eligible_charger(on_boost_button=True)  # already on
    forbidden = eligible_charger()
    Consent.objects.filter(tenancy__premise=forbidden.meter.premise).update(override_allowed=False)
    pending = eligible_charger()
    Consent.objects.filter(tenancy__premise=pending.meter.premise).update(status=ConsentStatus.PENDING)
    eligible_charger(label=LoadLabel.HEAT_PUMP)  # not an EV charger: never curtailed
    old_firmware = eligible_charger()
    type(old_firmware.meter).objects.filter(pk=old_firmware.meter_id).update(supports_eno_use_cases=False)
    in_flight = eligible_charger()
    _stored_setup(in_flight, state="acknowledged")  # accepted, the device's answer is on its way
    refused = eligible_charger()
    _stored_setup(refused, state="rejected")  # the DCC refused it: try again
    unanswered = eligible_charger()
    _stored_setup(unanswered, state="acknowledged", age=boost.AWAIT_DEVICE + dt.timedelta(minutes=1))

    assert boost.hcalcs_awaiting_boost_setup_ids() == sorted([ready.pk, refused.pk, unanswered.pk])
    assert boost.hcalcs_awaiting_boost_setup_ids(limit=1) == [ready.pk]
    assert boost.hcalcs_awaiting_boost_setup_ids(premise_id=refused.meter.premise_id) == [refused.pk]


@pytest.mark.django_db
def test_a_repeated_7_9_confirmation_records_the_boost_button_once():
    charger = eligible_charger()
    assert services.hcalcs_boost_button_added(hcalcs_id=charger.pk, request_id="r-1") is True
    assert services.hcalcs_boost_button_added(hcalcs_id=charger.pk, request_id="r-1") is False
    assert HCALCS.objects.get(pk=charger.pk).on_boost_button
    assert AuditEntry.objects.filter(action="hcalcs.boost_button_added", target_id=str(charger.pk)).count() == 1


@pytest.mark.processes
@pytest.mark.django_db(transaction=True)
def test_granting_consent_with_override_puts_the_charger_on_the_boost_button_before_any_event(live_stack, operator):
    """GIVEN a charger whose consent is still pending
    WHEN the customer grants consent and allows override
    THEN the worker sends 7.9 to the simulated meter over HTTP, the device adds the switch to
    its boost button, and on its confirmation ``on_boost_button`` turns True (audited), so a
    later event sends that charger 7.6 alone."""
    charger = eligible_charger(switch_index=2)
    meter = charger.meter
    consent = Consent.objects.get(tenancy__premise=meter.premise)
    Consent.objects.filter(pk=consent.pk).update(status=ConsentStatus.PENDING)
    live_stack.register_meters()

    services.consent_grant(
        consent=Consent.objects.get(pk=consent.pk),
        evidence_channel="web",
        evidence_date=timezone.now().date(),
        override_allowed=True,
        granted_by=operator,
        reason="customer signed up on the website",
    )

    wait_until(lambda: HCALCS.objects.get(pk=charger.pk).on_boost_button)
    setup = ServiceRequest.objects.get(hcalcs=charger, srv="7.9")
    assert setup.action_id is None and setup.state == "responded"
    assert live_stack.simulator.device_state(meter.esme_eui64)["boost_button"] == [2]
    assert AuditEntry.objects.filter(action="hcalcs.boost_button_setup", target_id=str(charger.pk)).exists()
    assert AuditEntry.objects.filter(action="hcalcs.boost_button_added", target_id=str(charger.pk)).exists()
