"""Issue 15 through real processes (PostgreSQL, Redis, a Celery worker with beat, the
uvicorn web server receiving the DCC's callbacks, the DCC simulator over HTTP): a failed 7.9
is not followed by a 7.6 and another charger is switched off; a change of tenancy and a
consent withdrawal mid-event release the charger at once with a 7.8 and switch another off,
and nobody is told of a pause that was not theirs."""

from __future__ import annotations

import pytest
from django.utils import timezone

from consent import services as consent_services
from consent.models import Consent, Notification
from core.models import AuditEntry
from curtailment.models import CurtailmentEvent
from tests.consent.factories import CustomerFactory
from tests.curtailment.test_e2e import assert_each_request_processed_once, setup_feeder, wait_until

pytestmark = [pytest.mark.processes, pytest.mark.django_db(transaction=True)]


def _consent_of(hcalcs) -> Consent:
    return Consent.objects.select_related("tenancy").get(
        tenancy__premise=hcalcs.meter.premise, tenancy__end__isnull=True
    )


def _start(feeder, operator) -> CurtailmentEvent:
    from curtailment.services import curtailment_event_start

    # 5 kW: one 7 kW charger covers it.
    return curtailment_event_start(
        feeder=feeder, reduction_kw=5, duration_minutes=30, reason="issue 15 e2e", requested_by=operator
    )


def test_a_failed_7_9_is_never_followed_by_a_7_6_and_another_charger_is_switched_off(live_stack, operator):
    feeder, (promised_boost, no_override), _token = setup_feeder(live_stack, chargers=2)
    Consent.objects.filter(pk=_consent_of(no_override).pk).update(override_allowed=False)  # needs no 7.9
    live_stack.simulator.faults.force_code, live_stack.simulator.faults.force_code_srv = "E5", "7.9"

    event = _start(feeder, operator)

    [first] = event.actions.all()
    assert first.hcalcs_id == promised_boost.pk
    replacement = wait_until(lambda: event.actions.exclude(pk=first.pk).filter(status="confirmed").first())
    assert replacement.hcalcs_id == no_override.pk
    first.refresh_from_db()
    assert (first.status, first.confirmed_at) == ("failed", None)
    assert dict(first.service_requests.values_list("srv", "state")) == {"7.9": "rejected"}
    device = live_stack.simulator.device_state(promised_boost.meter.esme_eui64)
    assert device["switches"][str(promised_boost.switch_index)]["state"] == "on"
    assert set(replacement.service_requests.values_list("srv", flat=True)) == {"7.6"}
    assert AuditEntry.objects.filter(action="action.boost_setup_failed", target_id=str(first.pk)).exists()
    assert AuditEntry.objects.filter(action="event.top_up", target_id=str(event.pk)).exists()
    # The replacement's customer is told; the customer whose charger stayed on is not.
    wait_until(lambda: Notification.objects.filter(event=event, kind="event").exists(), timeout=45)
    told = set(Notification.objects.filter(event=event).values_list("customer_id", flat=True))
    assert told == {_consent_of(no_override).tenancy.customer_id}
    assert_each_request_processed_once(live_stack)


@pytest.mark.parametrize("ending", ["change of tenancy", "consent withdrawn"])
def test_a_consent_ending_mid_event_releases_the_charger_at_once_and_another_is_switched_off(
    live_stack, operator, ending
):
    feeder, _chargers, _token = setup_feeder(live_stack, chargers=3)
    event = _start(feeder, operator)
    first = wait_until(lambda: event.actions.filter(status="confirmed").first())
    hcalcs, customer_before = first.hcalcs, _consent_of(first.hcalcs).tenancy.customer_id
    newcomer = None

    if ending == "change of tenancy":
        newcomer = CustomerFactory()
        consent_services.tenancy_change_record(
            premise=hcalcs.meter.premise, new_customer=newcomer, at=timezone.now(), recorded_by=operator, reason="moved"
        )
    else:
        consent_services.consent_withdraw(consent=_consent_of(hcalcs), withdrawn_by=operator, reason="by phone")

    wait_until(lambda: event.actions.get(pk=first.pk).status == "ended")
    first.refresh_from_db()
    assert first.end_reason == "released" and first.ended_at < first.expected_end_at
    assert first.service_requests.get(srv="7.8").state == "responded"
    device = live_stack.simulator.device_state(hcalcs.meter.esme_eui64)
    assert device["switches"][str(hcalcs.switch_index)]["state"] == "on"
    replacement = wait_until(lambda: event.actions.exclude(pk=first.pk).filter(status="confirmed").first())
    assert replacement.hcalcs_id != hcalcs.pk
    audit = AuditEntry.objects.get(action="action.release_consent_ended", target_id=str(first.pk))
    assert audit.reason.startswith(ending) and audit.inputs["consent_ended_by"] == operator.username
    assert CurtailmentEvent.objects.get(pk=event.pk).status == "active"
    # Notices: the replacement's customer; never the newcomer, who is in no event (they are
    # asked for consent); the customer who withdrew is not told of a pause either.
    replacement_customer = _consent_of(replacement.hcalcs).tenancy.customer_id
    wait_until(lambda: Notification.objects.filter(event=event, customer_id=replacement_customer).exists(), timeout=45)
    told = set(Notification.objects.filter(event=event).values_list("customer_id", flat=True))
    assert told <= {replacement_customer, customer_before}
    if newcomer is not None:
        assert list(Notification.objects.filter(customer=newcomer).values_list("kind", flat=True)) == [
            "consent_request"
        ]
    assert_each_request_processed_once(live_stack)
