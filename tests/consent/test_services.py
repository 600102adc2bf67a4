"""Consent lifecycle and change of tenancy (R4, NF2, NF3)."""

import datetime as dt
import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone

from consent import services
from consent.choices import ConsentStatus, NotificationChannel, NotificationKind
from consent.models import Consent, ConsentChange, Notification, Tenancy
from consent.selectors import consent_awaiting_queue, hcalcs_consented
from core.models import AuditEntry
from curtailment.models import CurtailmentAction
from curtailment.selectors import hcalcs_eligible_for_curtailment
from tests.consent.factories import ConsentFactory, CustomerFactory, HcalcsFactory, eligible_charger
from tests.curtailment.factories import action, open_event

pytestmark = pytest.mark.django_db


def _pending_consent():
    return ConsentFactory(status=ConsentStatus.PENDING, evidence_channel="", evidence_date=None)


def test_grant_moves_pending_to_granted_with_history_and_audit(operator):
    consent = _pending_consent()
    services.consent_grant(
        consent=consent,
        evidence_channel="phone",
        evidence_date=dt.date(2026, 11, 1),
        evidence_reference="CALL-42",
        override_allowed=False,
        granted_by=operator,
        reason="customer agreed on the phone",
    )
    consent.refresh_from_db()
    assert consent.status == ConsentStatus.GRANTED
    assert consent.override_allowed is False
    change = ConsentChange.objects.get(consent=consent)
    assert (change.from_status, change.to_status, change.changed_by, change.reason) == (
        ConsentStatus.PENDING,
        ConsentStatus.GRANTED,
        operator,
        "customer agreed on the phone",
    )
    assert change.evidence["reference"] == "CALL-42"
    assert AuditEntry.objects.filter(action="consent.grant", target_id=str(consent.pk), actor_user=operator).exists()


def test_grant_without_evidence_is_refused_and_writes_nothing(operator):
    consent = _pending_consent()
    with pytest.raises(ValidationError, match="evidence"):
        services.consent_grant(
            consent=consent, evidence_channel="", evidence_date=None, granted_by=operator, reason="no evidence"
        )
    consent.refresh_from_db()
    assert consent.status == ConsentStatus.PENDING
    assert not ConsentChange.objects.exists()


def test_decline_of_granted_consent_is_a_conflict(operator):
    consent = ConsentFactory()
    with pytest.raises(services.ConsentConflict, match="granted"):
        services.consent_decline(consent=consent, declined_by=operator, reason="changed mind")
    consent.refresh_from_db()
    assert consent.status == ConsentStatus.GRANTED
    assert not ConsentChange.objects.exists()


def test_withdraw_then_grant_again(operator):
    consent = ConsentFactory()
    services.consent_withdraw(consent=consent, withdrawn_by=operator, reason="customer wrote in")
    assert Consent.objects.get(pk=consent.pk).status == ConsentStatus.WITHDRAWN
    services.consent_grant(
        consent=consent,
        evidence_channel="web",
        evidence_date=timezone.now().date(),
        granted_by=operator,
        reason="customer re-joined",
    )
    statuses = list(ConsentChange.objects.filter(consent=consent).values_list("to_status", flat=True))
    assert statuses == [ConsentStatus.WITHDRAWN, ConsentStatus.GRANTED]


def test_a_reason_is_required(operator):
    consent = ConsentFactory()
    with pytest.raises(ValidationError, match="why"):
        services.consent_withdraw(consent=consent, withdrawn_by=operator, reason="  ")


def test_change_of_tenancy_makes_charger_ineligible_and_queues_consent_request(
    operator, django_capture_on_commit_callbacks
):
    charger = eligible_charger()
    premise = charger.meter.premise
    feeder = premise.feeder
    old_tenancy = Tenancy.objects.get(premise=premise)
    now = timezone.now()
    assert list(hcalcs_eligible_for_curtailment(feeder=feeder, at=now)) == [charger]
    running = _live_action(charger, now)

    newcomer = CustomerFactory(email="new.tenant@example.org")
    with django_capture_on_commit_callbacks() as callbacks:
        new_tenancy = services.tenancy_change_record(
            premise=premise, new_customer=newcomer, at=now, recorded_by=operator, reason="moved in"
        )
    assert callbacks, "the consent request is sent by a task queued on commit"

    old_tenancy.refresh_from_db()
    assert old_tenancy.end == now
    assert old_tenancy.consent.status == ConsentStatus.LAPSED
    assert ConsentChange.objects.filter(consent=old_tenancy.consent, to_status=ConsentStatus.LAPSED).exists()
    # The engine's own selection no longer picks it, at once.
    at = now + dt.timedelta(seconds=1)
    assert list(hcalcs_eligible_for_curtailment(feeder=feeder, at=at)) == []
    assert charger not in hcalcs_consented()
    # The action running at the premise is released at once (issue 15: the newcomer never
    # consented): a 7.8 is queued and the engine picks another charger.
    running_after = CurtailmentAction.objects.get(pk=running.pk)
    assert (running_after.status, running_after.end_reason) == ("releasing", "released")
    # The newcomer waits in the queue and was asked through the default channel.
    assert [c.tenancy for c in consent_awaiting_queue()] == [new_tenancy]
    request = Notification.objects.get(customer=newcomer)
    assert request.kind == NotificationKind.CONSENT_REQUEST
    assert request.channel == NotificationChannel.EMAIL
    assert premise.address in request.body

    services.consent_grant(
        consent=new_tenancy.consent,
        evidence_channel="web",
        evidence_date=at.date(),
        granted_by=operator,
        reason="new occupant agreed",
    )
    assert list(hcalcs_eligible_for_curtailment(feeder=feeder, at=at)) == [charger]
    assert list(consent_awaiting_queue()) == []


def _live_action(charger, now):
    event = open_event(
        feeder=charger.meter.premise.feeder,
        trigger="automatic",
        started_at=now - dt.timedelta(minutes=10),
        planned_end_at=now + dt.timedelta(minutes=50),
        reduction_kw=10,
    )
    return action(
        event=event, hcalcs=charger, minutes=60, expected_kw=7, started_at=event.started_at, confirmed_at=None
    )


@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_grants_one_wins_the_other_conflicts(operator):
    """Compare-and-set under a row lock: two operators granting the same pending consent at
    once give one granted consent, one history row and one clear conflict."""
    consent = _pending_consent()
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def grant(name: str) -> None:
        try:
            barrier.wait()
            services.consent_grant(
                consent=consent,
                evidence_channel="phone",
                evidence_date=dt.date(2026, 11, 1),
                granted_by=operator,
                reason=name,
            )
            outcomes.append("granted")
        except services.ConsentConflict:
            outcomes.append("conflict")
        finally:
            connection.close()

    threads = [threading.Thread(target=grant, args=(f"operator {n}",)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["conflict", "granted"]
    assert ConsentChange.objects.filter(consent=consent, to_status=ConsentStatus.GRANTED).count() == 1


def test_change_of_tenancy_before_the_current_one_started_is_refused(operator):
    charger = eligible_charger()
    premise = charger.meter.premise
    current = Tenancy.objects.get(premise=premise)
    with pytest.raises(ValidationError, match="must come after"):
        services.tenancy_change_record(
            premise=premise,
            new_customer=CustomerFactory(),
            at=current.start - dt.timedelta(days=1),
            recorded_by=operator,
            reason="typo",
        )
    current.refresh_from_db()
    assert current.end is None
    assert current.consent.status == ConsentStatus.GRANTED
    assert Tenancy.objects.filter(premise=premise).count() == 1


def test_change_of_tenancy_in_the_future_is_refused(operator):
    charger = eligible_charger()
    with pytest.raises(ValidationError, match="in advance"):
        services.tenancy_change_record(
            premise=charger.meter.premise,
            new_customer=CustomerFactory(),
            at=timezone.now() + dt.timedelta(days=2),
            recorded_by=operator,
            reason="moving next week",
        )


def test_forbidding_override_queues_boost_button_removal_for_chargers_on_it(
    operator, django_capture_on_commit_callbacks
):
    charger = eligible_charger(on_boost_button=True)
    HcalcsFactory(meter=charger.meter, switch_index=2, on_boost_button=False)
    consent = Consent.objects.get(tenancy__premise=charger.meter.premise)
    with django_capture_on_commit_callbacks() as callbacks:
        services.consent_override_set(consent=consent, override_allowed=False, set_by=operator, reason="asked")
    consent.refresh_from_db()
    assert consent.override_allowed is False
    assert len(callbacks) == 1  # only the HCALCS on the boost button
    change = ConsentChange.objects.get(consent=consent)
    assert change.from_status == change.to_status == ConsentStatus.GRANTED
    assert change.override_allowed is False
