"""A change of tenancy or a consent withdrawal mid-event releases that charger at once (7.8
through the release path), picks a replacement, is audited, and the new occupant is never
told of a pause that was not theirs (issue 15). The consent services call the engine
through the ``consent_ended`` hook; a minute sweep catches what a failed hook missed."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from consent import services as consent_services
from consent.choices import ConsentStatus
from consent.hooks import consent_ended_handlers_replaced
from consent.models import Consent, Notification
from core.models import AuditEntry
from curtailment.models import CurtailmentAction
from curtailment.services import curtailment_event_start
from curtailment.services.consent_ended import actions_without_consent_release
from curtailment.services.notify import customers_notify
from tests.consent.factories import CustomerFactory, eligible_charger
from tests.feeders.factories import FeederFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def curtailed(operator):
    """A manual event curtailing one of three chargers (switched off: confirmed), and the
    action that holds it."""
    feeder = FeederFactory()
    for _ in range(3):
        eligible_charger(feeder=feeder, rated_kw=7.0)
    event = curtailment_event_start(
        feeder=feeder, reduction_kw=5, duration_minutes=30, reason="consent test", requested_by=operator
    )
    [action] = event.actions.all()
    now = timezone.now()
    CurtailmentAction.objects.filter(pk=action.pk).update(status="confirmed", confirmed_at=now, commanded_minutes=29)
    action.refresh_from_db()
    return event, action


def _consent_of(action: CurtailmentAction) -> Consent:
    return Consent.objects.get(tenancy__premise=action.hcalcs.meter.premise, tenancy__end__isnull=True)


def _released_and_replaced(event, action, why: str) -> CurtailmentAction:
    action.refresh_from_db()
    assert (action.status, action.end_reason) == ("releasing", "released")
    audit = AuditEntry.objects.get(action="action.release_consent_ended", target_id=str(action.pk))
    assert audit.actor == "rule:consent-ended" and audit.reason.startswith(why)
    [replacement] = event.actions.exclude(pk=action.pk)
    assert replacement.status == "planned" and replacement.hcalcs_id != action.hcalcs_id
    top_up = AuditEntry.objects.get(action="event.top_up", target_id=str(event.pk))
    assert top_up.reason == f"replace actions [{action.pk}]: {why}"
    return replacement


def test_a_withdrawal_mid_event_releases_the_charger_at_once_and_picks_another(
    curtailed, operator, django_capture_on_commit_callbacks
):
    event, action = curtailed
    with django_capture_on_commit_callbacks() as callbacks:
        consent_services.consent_withdraw(consent=_consent_of(action), withdrawn_by=operator, reason="customer called")

    _released_and_replaced(event, action, "consent withdrawn")
    assert callbacks, "the 7.8 and the replacement's dispatch are queued on commit"
    assert _consent_of(action).status == ConsentStatus.WITHDRAWN


def test_a_change_of_tenancy_mid_event_releases_the_charger_and_the_new_occupant_is_not_told(curtailed, operator):
    event, action = curtailed
    premise = action.hcalcs.meter.premise
    newcomer = CustomerFactory()

    consent_services.tenancy_change_record(
        premise=premise, new_customer=newcomer, at=timezone.now(), recorded_by=operator, reason="moved in"
    )

    replacement = _released_and_replaced(event, action, "change of tenancy")
    # The newcomer consents at once; the pause of the charger at their new home, picked
    # under the previous occupant's consent, is still not theirs to be told of.
    consent_services.consent_grant(
        consent=_consent_of(action),
        evidence_channel="web",
        evidence_date=timezone.now().date(),
        granted_by=operator,
        reason="agreed",
    )
    CurtailmentAction.objects.filter(pk=replacement.pk).update(status="confirmed", confirmed_at=timezone.now())
    customers_notify(event=event, hcalcs_ids=[action.hcalcs_id, replacement.hcalcs_id])
    told = set(Notification.objects.filter(event=event).values_list("customer_id", flat=True))
    assert newcomer.pk not in told
    assert told == {replacement.selection["customer_id"]}
    assert set(Notification.objects.filter(customer=newcomer).values_list("kind", flat=True)) == {"consent_request"}


def test_a_charger_not_yet_commanded_ends_at_once_with_nothing_to_reset(operator):
    feeder = FeederFactory()
    for _ in range(2):
        eligible_charger(feeder=feeder, rated_kw=7.0)
    event = curtailment_event_start(
        feeder=feeder, reduction_kw=5, duration_minutes=30, reason="consent test", requested_by=operator
    )
    [action] = event.actions.all()

    consent_services.consent_withdraw(consent=_consent_of(action), withdrawn_by=operator, reason="changed mind")

    action.refresh_from_db()
    assert (action.status, action.end_reason) == ("ended", "released")
    assert not action.service_requests.exists()
    assert event.actions.exclude(pk=action.pk).count() == 1


def test_other_premises_and_ended_events_are_left_alone(curtailed, operator):
    event, action = curtailed
    other = eligible_charger(feeder=event.feeder, rated_kw=7.0)

    consent_services.consent_withdraw(consent=_consent_of_hcalcs(other), withdrawn_by=operator, reason="elsewhere")

    action.refresh_from_db()
    assert action.status == "confirmed"
    assert not AuditEntry.objects.filter(action="action.release_consent_ended").exists()


def _consent_of_hcalcs(hcalcs) -> Consent:
    return Consent.objects.get(tenancy__premise=hcalcs.meter.premise, tenancy__end__isnull=True)


def test_the_minute_sweep_releases_a_charger_whose_consent_ended_unseen(curtailed, operator):
    """GIVEN the hook did not run (a handler failed) WHEN the sweep runs THEN the charger is
    released and replaced all the same."""
    event, action = curtailed
    with consent_ended_handlers_replaced(handlers=[]):
        consent_services.consent_withdraw(consent=_consent_of(action), withdrawn_by=operator, reason="by letter")
    action.refresh_from_db()
    assert action.status == "confirmed"

    released = actions_without_consent_release(now=timezone.now() + dt.timedelta(seconds=1))

    assert released == [action.pk]
    replacement = _released_and_replaced(event, action, "no granted consent of the customer it was picked under")
    assert AuditEntry.objects.get(action="action.release_consent_ended").inputs["found_by"] == "sweep"
    assert actions_without_consent_release() == []  # the replacement has consent; nothing more
    assert replacement.pk


def test_a_failing_hook_does_not_stop_the_withdrawal(curtailed, operator):
    _event, action = curtailed

    def broken(ended):
        raise RuntimeError("engine down")

    with consent_ended_handlers_replaced(handlers=[broken]):
        consent_services.consent_withdraw(consent=_consent_of(action), withdrawn_by=operator, reason="by phone")

    assert _consent_of(action).status == ConsentStatus.WITHDRAWN
