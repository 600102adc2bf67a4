"""Writes of the consent app: consent lifecycle (R4, NF2), change of tenancy (NF3), customers.

Consent moves by compare-and-set under a row lock, so two operators (or one and the API) can
never both move the same consent: the loser gets ``ConsentConflict`` and nothing is written."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from consent.choices import ConsentStatus, NotificationChannel, NotificationFrequency
from consent.models import HCALCS, Consent, ConsentChange, Customer, Premise, Tenancy
from consent.validators import validate_evidence_date
from core.audit import audit_record, changes_between
from dnoctl.queueing import task_send_on_commit

# A change of tenancy is recorded once it has happened; a little clock skew between the
# DNO's customer system and us is tolerated.
FUTURE_TOLERANCE = dt.timedelta(minutes=5)

GRANTABLE_FROM = (ConsentStatus.PENDING, ConsentStatus.DECLINED, ConsentStatus.WITHDRAWN)


class ConsentConflict(Exception):
    """The consent is not in a state that allows this change (or someone else moved it first)."""


def _actor(by: User | None, rule: str) -> dict[str, Any]:
    if by is not None:
        return {"changed_by": by, "actor": by.get_username(), "audit": {"actor_user": by}}
    return {"changed_by": None, "actor": f"rule:{rule}", "audit": {"rule": rule}}


def _history_append(
    *, consent: Consent, from_status: str, by: User | None, rule: str, reason: str, evidence: dict | None = None
) -> ConsentChange:
    who = _actor(by, rule)
    change = ConsentChange(
        consent=consent,
        at=timezone.now(),
        from_status=from_status,
        to_status=consent.status,
        override_allowed=consent.override_allowed,
        changed_by=who["changed_by"],
        actor=who["actor"],
        reason=reason,
        evidence=evidence or {},
    )
    change.full_clean()
    change.save()
    return change


def _audit(
    *, action: str, by: User | None, rule: str, target, reason: str, inputs: dict, changes: dict | None = None
) -> None:
    audit_record(
        action=action, target=target, reason=reason, inputs=inputs, changes=changes, **_actor(by, rule)["audit"]
    )


def _require_reason(reason: str) -> None:
    if not (reason or "").strip():
        raise ValidationError({"reason": "say why (it goes into the consent history)"})


def _consent_move(
    *,
    consent: Consent,
    allowed_from: tuple[str, ...],
    to_status: str | None,
    changes: dict[str, Any],
    by: User | None,
    rule: str,
    reason: str,
    action: str,
    evidence: dict | None = None,
) -> Consent:
    """``to_status=None`` keeps the status (a permission or preference change)."""
    _require_reason(reason)
    with transaction.atomic():
        current = Consent.objects.select_for_update().select_related("tenancy").get(pk=consent.pk)
        if current.status not in allowed_from:
            raise ConsentConflict(
                f"consent {current.pk} is {current.status}; {action} needs one of {', '.join(allowed_from)}"
            )
        from_status = current.status
        override_before = current.override_allowed
        before = {"status": from_status, **{field: getattr(current, field) for field in changes}}
        for field, value in changes.items():
            setattr(current, field, value)
        if to_status is not None:
            current.status = to_status
        current.full_clean()
        moved = Consent.objects.filter(pk=current.pk, status=from_status).update(
            status=current.status, updated_at=timezone.now(), **changes
        )
        if moved != 1:  # cannot happen under the lock, but a lost race must never write history
            raise ConsentConflict(f"consent {current.pk} changed while it was being updated")
        current.refresh_from_db()
        _history_append(consent=current, from_status=from_status, by=by, rule=rule, reason=reason, evidence=evidence)
        _audit(
            action=action,
            by=by,
            rule=rule,
            target=current,
            reason=reason,
            inputs={
                "premise_id": current.tenancy.premise_id,
                "tenancy_id": current.tenancy_id,
                "from_status": from_status,
                "to_status": current.status,
                "override_allowed": current.override_allowed,
            },
            changes=changes_between(before, {"status": current.status, **{f: getattr(current, f) for f in changes}}),
        )
        if from_status == ConsentStatus.GRANTED and current.status != ConsentStatus.GRANTED:
            _consent_ended(consent=current, why="consent withdrawn", by=by, rule=rule)
        if override_before and not current.override_allowed:
            _boost_removal_queue(premise_id=current.tenancy.premise_id)
        overridable_now = current.status == ConsentStatus.GRANTED and current.override_allowed
        if overridable_now and not (from_status == ConsentStatus.GRANTED and override_before):
            _boost_setup_queue(premise_id=current.tenancy.premise_id)
    return current


def _boost_setup_queue(*, premise_id: int) -> None:
    """Done now, so an alert later needs one command per charger instead of two."""
    from consent import tasks
    from consent.boost import hcalcs_awaiting_boost_setup_ids

    # Only chargers that need it (an EV charger on ENO firmware, not yet on the button).
    for hcalcs_id in hcalcs_awaiting_boost_setup_ids(premise_id=premise_id):
        # A broker outage is logged, not raised: the hourly boost_button_reconcile sends it.
        task_send_on_commit(tasks.boost_button_setup, (hcalcs_id,))


def _boost_removal_queue(*, premise_id: int) -> None:
    from consent import tasks

    for hcalcs_id in HCALCS.objects.filter(meter__premise_id=premise_id, on_boost_button=True).values_list(
        "id", flat=True
    ):
        task_send_on_commit(tasks.boost_button_remove, (hcalcs_id,))


def consent_grant(
    *,
    consent: Consent,
    evidence_channel: str,
    evidence_date: dt.date,
    evidence_reference: str = "",
    override_allowed: bool | None = None,
    granted_by: User | None,
    reason: str,
) -> Consent:
    """Record the occupant's consent, with its evidence (not dated in the future)."""
    try:
        validate_evidence_date(evidence_date)
    except ValidationError as exc:
        raise ValidationError({"evidence_date": exc.messages}) from None
    changes: dict[str, Any] = {
        "evidence_channel": evidence_channel,
        "evidence_date": evidence_date,
        "evidence_reference": evidence_reference,
    }
    if override_allowed is not None:
        changes["override_allowed"] = override_allowed
    evidence = {
        "channel": evidence_channel,
        "date": evidence_date.isoformat() if evidence_date else None,
        "reference": evidence_reference,
    }
    return _consent_move(
        consent=consent,
        allowed_from=GRANTABLE_FROM,
        to_status=ConsentStatus.GRANTED,
        changes=changes,
        by=granted_by,
        rule="consent-api",
        reason=reason,
        action="consent.grant",
        evidence=evidence,
    )


def consent_decline(
    *,
    consent: Consent,
    declined_by: User | None,
    reason: str,
    evidence_channel: str = "",
    evidence_reference: str = "",
) -> Consent:
    """The occupant refuses outright (R4): their charger is never curtailed."""
    return _consent_move(
        consent=consent,
        allowed_from=(ConsentStatus.PENDING,),
        to_status=ConsentStatus.DECLINED,
        changes={},
        by=declined_by,
        rule="consent-api",
        reason=reason,
        action="consent.decline",
        evidence={"channel": evidence_channel, "reference": evidence_reference},
    )


def consent_withdraw(*, consent: Consent, withdrawn_by: User | None, reason: str) -> Consent:
    """No new curtailment, and a charger curtailed now is released at once (``consent.hooks``)."""
    return _consent_move(
        consent=consent,
        allowed_from=(ConsentStatus.GRANTED,),
        to_status=ConsentStatus.WITHDRAWN,
        changes={},
        by=withdrawn_by,
        rule="consent-api",
        reason=reason,
        action="consent.withdraw",
    )


def consent_override_set(*, consent: Consent, override_allowed: bool, set_by: User | None, reason: str) -> Consent:
    """Allow or forbid the boost button's override; queues SRV 7.9 or 7.10 to match."""
    open_states = (ConsentStatus.PENDING, ConsentStatus.GRANTED, ConsentStatus.DECLINED, ConsentStatus.WITHDRAWN)
    return _consent_move(
        consent=consent,
        allowed_from=open_states,
        to_status=None,
        changes={"override_allowed": override_allowed},
        by=set_by,
        rule="consent-api",
        reason=reason,
        action="consent.override_set",
    )


def consent_preferences_set(
    *, consent: Consent, notification_channel: str, notification_frequency: str, set_by: User | None, reason: str
) -> Consent:
    """Change how and how often the customer hears about events."""
    open_states = (ConsentStatus.PENDING, ConsentStatus.GRANTED, ConsentStatus.DECLINED, ConsentStatus.WITHDRAWN)
    return _consent_move(
        consent=consent,
        allowed_from=open_states,
        to_status=None,
        changes={"notification_channel": notification_channel, "notification_frequency": notification_frequency},
        by=set_by,
        rule="consent-api",
        reason=reason,
        action="consent.preferences_set",
    )


def customer_upsert(
    *,
    external_ref: str | None,
    name: str,
    email: str = "",
    phone: str = "",
    postal_address: str = "",
) -> Customer:
    """Create or update by external reference. Not audited: the trail holds identifiers only,
    and the tenancy change that uses the customer is audited."""
    customer = Customer.objects.filter(external_ref=external_ref).first() if external_ref else None
    if customer is None:
        customer = Customer(external_ref=external_ref or None)
    customer.name, customer.email, customer.phone, customer.postal_address = name, email, phone, postal_address
    customer.full_clean()
    customer.save()
    return customer


def tenancy_change_record(
    *,
    premise: Premise,
    new_customer: Customer,
    at: dt.datetime,
    recorded_by: User | None,
    reason: str,
    notification_channel: str = NotificationChannel.EMAIL,
    notification_frequency: str = NotificationFrequency.EACH_EVENT,
) -> Tenancy:
    """Record that ``new_customer`` occupies ``premise`` from ``at`` (NF3). The old consent
    lapses at once, so a charger curtailed there is released; the new tenancy starts pending."""
    from consent import notifications

    _require_reason(reason)
    if timezone.is_naive(at):
        raise ValidationError({"at": "give the time of the change with its time zone"})
    if at > timezone.now() + FUTURE_TOLERANCE:
        raise ValidationError({"at": "a change of tenancy is recorded once it has happened, not in advance"})
    rule = "tenancy-feed"
    with transaction.atomic():
        # The premise row lock serialises two changes of tenancy of the same premise.
        Premise.objects.select_for_update().get(pk=premise.pk)
        old = Tenancy.objects.select_for_update().filter(premise=premise, end__isnull=True).first()
        if old is not None:
            if old.customer_id == new_customer.pk:
                raise ValidationError({"new_customer": "this customer already occupies the premise"})
            if at <= old.start:
                raise ValidationError(
                    {"at": f"the current tenancy started {old.start:%Y-%m-%d %H:%M} UTC; a change must come after it"}
                )
            old.end = at
            old.full_clean()
            old.save(update_fields=["end"])
            _consent_lapse(tenancy=old, by=recorded_by, rule=rule)
        new = Tenancy(premise=premise, customer=new_customer, start=at)
        new.full_clean()
        new.save()
        consent = Consent(
            tenancy=new,
            status=ConsentStatus.PENDING,
            notification_channel=notification_channel,
            notification_frequency=notification_frequency,
        )
        consent.full_clean()
        consent.save()
        _history_append(consent=consent, from_status="", by=recorded_by, rule=rule, reason=f"new tenancy: {reason}")
        _audit(
            action="tenancy.change",
            by=recorded_by,
            rule=rule,
            target=new,
            reason=reason,
            inputs={
                "premise_id": premise.pk,
                "premise_reference": premise.reference,
                "ended_tenancy_id": old.pk if old else None,
                "new_tenancy_id": new.pk,
                "at": at.isoformat(),
            },
        )
        notifications.notification_consent_request_queue(consent=consent)
    return new


def _consent_lapse(*, tenancy: Tenancy, by: User | None, rule: str) -> None:
    consent = Consent.objects.select_for_update().filter(tenancy=tenancy).first()
    if consent is None or consent.status == ConsentStatus.LAPSED:
        return
    from_status = consent.status
    Consent.objects.filter(pk=consent.pk, status=from_status).update(
        status=ConsentStatus.LAPSED, updated_at=timezone.now()
    )
    consent.refresh_from_db()
    _history_append(
        consent=consent, from_status=from_status, by=by, rule=rule, reason="change of tenancy: the occupant has left"
    )
    _audit(
        action="consent.lapse",
        by=by,
        rule=rule,
        target=consent,
        reason="change of tenancy",
        inputs={"premise_id": tenancy.premise_id, "tenancy_id": tenancy.pk, "from_status": from_status},
        changes=changes_between({"status": from_status}, {"status": consent.status}),
    )
    if from_status == ConsentStatus.GRANTED:
        _consent_ended(consent=consent, why="change of tenancy", by=by, rule=rule)


def _consent_ended(*, consent: Consent, why: str, by: User | None, rule: str) -> None:
    """Inside this transaction, so a charger curtailed under it is released at once."""
    from consent.hooks import ConsentEnded, consent_ended_announce

    tenancy = consent.tenancy
    consent_ended_announce(
        ConsentEnded(
            premise_id=tenancy.premise_id,
            consent_id=consent.pk,
            customer_id=tenancy.customer_id,
            hcalcs_ids=tuple(HCALCS.objects.filter(meter__premise_id=tenancy.premise_id).values_list("pk", flat=True)),
            why=why,
            actor=_actor(by, rule)["actor"],
            at=timezone.now(),
        )
    )


def hcalcs_boost_button_added(*, hcalcs_id: int, request_id: str = "") -> bool:
    """The device confirmed SRV 7.9; compare-and-set, so a repeated confirmation returns False."""
    return _boost_button_flag_set(
        hcalcs_id=hcalcs_id,
        on=True,
        action="hcalcs.boost_button_added",
        reason="device confirmed SRV 7.9",
        inputs={"request_id": request_id},
    )


def hcalcs_boost_button_removed(*, hcalcs_id: int) -> bool:
    """The device confirmed SRV 7.10; compare-and-set, so a repeated confirmation returns False."""
    return _boost_button_flag_set(
        hcalcs_id=hcalcs_id,
        on=False,
        action="hcalcs.boost_button_removed",
        reason="device confirmed SRV 7.10 after override permission was withdrawn",
    )


def _boost_button_flag_set(*, hcalcs_id: int, on: bool, action: str, reason: str, inputs: dict | None = None) -> bool:
    with transaction.atomic():
        changed = HCALCS.objects.filter(pk=hcalcs_id, on_boost_button=not on).update(on_boost_button=on)
        if changed:
            hcalcs = HCALCS.objects.get(pk=hcalcs_id)
            audit_record(
                action=action,
                rule="boost-button",
                target=hcalcs,
                reason=reason,
                inputs={"hcalcs_eui64": hcalcs.eui64, **(inputs or {})},
            )
    return bool(changed)
