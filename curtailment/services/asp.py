"""ASP call-offs over OpenADR 3 (NF14); docs/asp-openadr.md is the guide.

A call-off counts like an unconfirmed 7.6: as asked until ``confirm_by`` (no customer is curtailed
for what the provider is about to deliver), then as freshly reported. A drop is audited and topped
up with chargers.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets

from django.conf import settings
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from core.audit import audit_record
from curtailment.choices import AspCallOffStatus, EventStatus
from curtailment.models import AspCallOff, AspContract, AspReport, AspVen, CurtailmentEvent
from curtailment.openadr.objects import ReportProblem, calloff_pk, contract_pk, event_id, report_delivered_kw
from curtailment.openadr.schemas import ReportIn
from curtailment.services.common import logger, push_event
from dnoctl.queueing import task_send_on_commit

ASP_RULE = "asp-calloff"
KW_EPSILON = 0.01


class ReportRefused(Exception):
    """A report the VTN will not take; ``status`` is the HTTP status to answer."""

    def __init__(self, status: int, detail: str):
        super().__init__(detail)
        self.status = status
        self.detail = detail


def option(name: str):
    return settings.OPENADR[name]


# --- VEN credentials -------------------------------------------------------------------------


def secret_sha256(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def asp_ven_register(*, ven_name: str, provider: str, client_id: str | None = None) -> tuple[AspVen, str]:
    """Create a VEN and return its secret, shown once (only its SHA-256 is stored)."""
    secret = secrets.token_urlsafe(32)
    ven = AspVen(
        ven_name=ven_name,
        provider=provider,
        client_id=client_id or f"ven-{secrets.token_hex(8)}",
        secret_sha256=secret_sha256(secret),
    )
    ven.full_clean()
    ven.save()
    return ven, secret


def asp_ven_authenticate(*, client_id: str, client_secret: str) -> AspVen | None:
    """The active VEN these credentials belong to, or None."""
    ven = AspVen.objects.filter(client_id=client_id, active=True).first()
    if ven is None or not hmac.compare_digest(ven.secret_sha256, secret_sha256(client_secret)):
        return None
    return ven


# --- what the event may count on -----------------------------------------------------------


def _fresh_confirmed_kw(calloff: AspCallOff, at: dt.datetime) -> float:
    if calloff.reported_at is None or calloff.reported_at < at - dt.timedelta(seconds=option("REPORT_FRESH_S")):
        return 0.0
    return min(calloff.kw, max(0.0, calloff.confirmed_kw))


def _awaiting(calloff: AspCallOff, at: dt.datetime) -> bool:
    return calloff.confirm_by is not None and at < calloff.confirm_by


def calloff_counted_kw(calloff: AspCallOff, at: dt.datetime) -> float:
    """What the event counts on from this call-off at ``at`` (see the module docstring)."""
    if calloff.status != AspCallOffStatus.CALLED:
        return 0.0
    return calloff.kw if _awaiting(calloff, at) else _fresh_confirmed_kw(calloff, at)


def _live(event) -> list[AspCallOff]:
    return list(AspCallOff.objects.filter(event_id=event.pk, status=AspCallOffStatus.CALLED))


def asp_relief_kw(*, event, at: dt.datetime | None = None) -> float:
    """kW of load reduction the providers' fresh reports confirm for the event now."""
    at = at or timezone.now()
    return sum(_fresh_confirmed_kw(calloff, at) for calloff in _live(event))


def asp_pending_kw(*, event, at: dt.datetime | None = None) -> float:
    """kW asked of providers, not confirmed yet, whose confirmation deadline has not passed."""
    at = at or timezone.now()
    return sum(
        max(0.0, calloff.kw - _fresh_confirmed_kw(calloff, at)) for calloff in _live(event) if _awaiting(calloff, at)
    )


def _event_counted_refresh(event_id: int) -> float:
    total = (
        AspCallOff.objects.filter(event_id=event_id, status=AspCallOffStatus.CALLED).aggregate(kw=Sum("counted_kw"))[
            "kw"
        ]
        or 0.0
    )
    CurtailmentEvent.objects.filter(pk=event_id).update(asp_calloff_kw=total)
    return total


def _contract_in_use_kw(contract: AspContract) -> float:
    return contract.calloffs.filter(status=AspCallOffStatus.CALLED).aggregate(kw=Sum("kw"))["kw"] or 0.0


def asp_kw_available(*, feeder_id: int, at: dt.datetime) -> float:
    """kW still uncalled on active contracts of the feeder with an active VEN."""
    total = 0.0
    contracts = AspContract.objects.filter(
        active=True, starts_at__lte=at, ends_at__gt=at, feeders=feeder_id, ven__active=True
    )
    for contract in contracts:
        in_use = _contract_in_use_kw(contract)
        total += max(0.0, contract.available_kw - in_use)
    return total


# --- calling off -----------------------------------------------------------------------------


def asp_call_off(
    *, event: CurtailmentEvent, kw: float, at: dt.datetime, confirm_by: dt.datetime | None = None
) -> float:
    """NF14: ask the feeder's ASP contracts for up to ``kw`` more; audited. Returns the kW asked for."""
    if kw <= KW_EPSILON:
        return 0.0
    confirm_by = confirm_by or at + dt.timedelta(seconds=option("CONFIRM_S"))
    total, called, without_ven = 0.0, [], []
    with transaction.atomic():
        contracts = (
            AspContract.objects.filter(active=True, starts_at__lte=at, ends_at__gt=at, feeders=event.feeder_id)
            .select_related("ven")
            .order_by("reference")
            .select_for_update(of=("self",))
        )
        for contract in contracts:
            if total >= kw - KW_EPSILON:
                break
            if contract.ven is None or not contract.ven.active:
                without_ven.append(contract.reference)
                continue
            in_use = _contract_in_use_kw(contract)
            ask = min(contract.available_kw - in_use, kw - total)
            if ask <= KW_EPSILON:
                continue
            calloff = _calloff_add(contract=contract, event=event, kw=ask, at=at, confirm_by=confirm_by)
            if calloff is None:
                continue
            total += ask
            called.append(
                {
                    "calloff": calloff.pk,
                    "openadr_event": event_id(calloff),
                    "contract": contract.reference,
                    "ven": contract.ven.ven_name,
                    "kw": round(ask, 3),
                    "available_kw": contract.available_kw,
                    "in_use_kw": round(in_use, 3),
                    "confirm_by": confirm_by.isoformat(),
                }
            )
        for entry in called:
            audit_record(
                action="asp.call_off",
                rule=ASP_RULE,
                target=event,
                reason=f"NF14: {entry['kw']:.1f} kW asked of {entry['contract']} through VEN {entry['ven']}",
                inputs=entry,
            )
        if without_ven:
            audit_record(
                action="asp.not_called",
                rule=ASP_RULE,
                target=event,
                reason="contracts without an active VEN cannot be called off",
                inputs={"contracts": without_ven},
            )
        if called:
            _event_counted_refresh(event.pk)
            _check_at(confirm_by)
    return total


def _calloff_add(
    *, contract: AspContract, event: CurtailmentEvent, kw: float, at: dt.datetime, confirm_by: dt.datetime
) -> AspCallOff | None:
    calloff, created = AspCallOff.objects.select_for_update().get_or_create(
        contract=contract,
        event=event,
        defaults={
            "kw": kw,
            "called_at": at,
            "ends_at": event.planned_end_at,
            "confirm_by": confirm_by,
            "counted_kw": kw,
            "modified_at": at,
        },
    )
    if created:
        return calloff
    if calloff.status != AspCallOffStatus.CALLED:
        return None  # released with its event: nothing more to ask of it
    calloff.kw += kw
    calloff.confirm_by = max(calloff.confirm_by or confirm_by, confirm_by)
    calloff.counted_kw = calloff.kw
    calloff.modified_at = at
    calloff.settled_at = None  # the added kW get their own deadline
    calloff.save(update_fields=["kw", "confirm_by", "counted_kw", "modified_at", "settled_at"])
    return calloff


def _check_at(when: dt.datetime) -> None:
    """Look again just after the deadline, so the fallback is prompt (beat also checks)."""
    from curtailment.openadr import tasks

    delay = max(0.0, (when - timezone.now()).total_seconds()) + 1.0
    task_send_on_commit(tasks.asp_calloffs_check, countdown=delay)


def asp_calloffs_audit(*, event: CurtailmentEvent) -> list[dict]:
    return [
        {
            "contract": calloff.contract.reference,
            "kw": round(calloff.kw, 3),
            "confirm_by": calloff.confirm_by.isoformat() if calloff.confirm_by else None,
        }
        for calloff in AspCallOff.objects.filter(event=event).select_related("contract").order_by("pk")
    ]


def asp_calloffs_release(*, event_id: int, at: dt.datetime) -> list[int]:
    """The event is over: its live call-offs end; the event keeps its last counted kW as history."""
    ids = list(
        AspCallOff.objects.filter(event_id=event_id, status=AspCallOffStatus.CALLED).values_list("pk", flat=True)
    )
    if not ids:
        return []
    AspCallOff.objects.filter(pk__in=ids, status=AspCallOffStatus.CALLED).update(
        status=AspCallOffStatus.RELEASED, released_at=at, modified_at=at
    )
    audit_record(
        action="asp.release",
        rule=ASP_RULE,
        target=CurtailmentEvent(pk=event_id),
        reason="the event no longer needs the call-offs",
        inputs={"calloffs": ids, "at": at.isoformat()},
    )
    return ids


def asp_calloffs_seen(*, ven: AspVen, calloff_ids: list[int], at: dt.datetime) -> int:
    """The VEN fetched these call-offs: record (once, compare-and-set) when the provider got each."""
    seen = 0
    for calloff in AspCallOff.objects.filter(pk__in=calloff_ids, seen_at__isnull=True).select_related("contract"):
        if AspCallOff.objects.filter(pk=calloff.pk, seen_at__isnull=True).update(seen_at=at):
            seen += 1
            audit_record(
                action="asp.seen",
                rule=ASP_RULE,
                target=CurtailmentEvent(pk=calloff.event_id),
                reason=f"VEN {ven.ven_name} fetched call-off {event_id(calloff)}",
                inputs={"calloff": calloff.pk, "ven": ven.ven_name, "contract": calloff.contract.reference},
            )
    return seen


# --- reports and the fallback ------------------------------------------------------------------


def asp_report_record(*, ven: AspVen, report: ReportIn, body: dict, at: dt.datetime | None = None) -> AspReport:
    """Credit what a report confirms (at most as asked), falling back to chargers if short;
    :class:`ReportRefused` stores nothing."""
    at = at or timezone.now()
    if report.clientName != ven.ven_name:
        raise ReportRefused(403, f"clientName must be this VEN's name, {ven.ven_name}")
    pk = calloff_pk(report.eventID)
    calloff = AspCallOff.objects.select_related("contract").filter(pk=pk, contract__ven=ven).first() if pk else None
    if calloff is None:
        raise ReportRefused(404, f"eventID {report.eventID}: no call-off of this VEN has that id")
    if contract_pk(report.programID) != calloff.contract_id:
        raise ReportRefused(400, f"programID {report.programID} is not the programme of event {report.eventID}")
    try:
        delivered = report_delivered_kw(report)
    except ReportProblem as exc:
        raise ReportRefused(400, str(exc)) from None
    with transaction.atomic():
        calloff = AspCallOff.objects.select_for_update().select_related("contract").get(pk=calloff.pk)
        stored = AspReport.objects.create(
            calloff=calloff,
            ven=ven,
            received_at=at,
            delivered_kw=delivered,
            report_name=(report.reportName or "")[:200],
            body=body,
        )
        credited = calloff.status == AspCallOffStatus.CALLED
        if credited:
            calloff.confirmed_kw, calloff.reported_at = min(calloff.kw, max(0.0, delivered)), at
            calloff.save(update_fields=["confirmed_kw", "reported_at"])
        audit_record(
            action="asp.report",
            rule=ASP_RULE,
            target=CurtailmentEvent(pk=calloff.event_id),
            reason=f"VEN {ven.ven_name} reports {delivered:.1f} of {calloff.kw:.1f} kW"
            + ("" if credited else " (call-off released: not credited)"),
            inputs={
                "calloff": calloff.pk,
                "report": stored.pk,
                "delivered_kw": round(delivered, 3),
                "asked_kw": round(calloff.kw, 3),
                "credited": credited,
            },
        )
    if credited:
        calloff_recount(calloff_id=calloff.pk, at=at)
    return stored


def calloff_recount(*, calloff_id: int, at: dt.datetime | None = None) -> float:
    """Update a call-off's counted kW; a drop is audited and topped up. Returns the drop."""
    from curtailment.services.event import event_top_up

    at = at or timezone.now()
    with transaction.atomic():
        calloff = AspCallOff.objects.select_for_update().select_related("contract", "event").get(pk=calloff_id)
        before, after = calloff.counted_kw, calloff_counted_kw(calloff, at)
        if calloff.settled_at is None and calloff.status == AspCallOffStatus.CALLED and not _awaiting(calloff, at):
            _settle(calloff, at, confirmed=after)
        if abs(after - before) < KW_EPSILON:
            return 0.0
        calloff.counted_kw = after
        first_fallback = after < before and calloff.fallback_at is None
        if first_fallback:
            calloff.fallback_at = at
        calloff.save(update_fields=["counted_kw", "fallback_at"])
        event_kw = _event_counted_refresh(calloff.event_id)
        event = calloff.event
        event.asp_calloff_kw = event_kw
        push_event(event)
        if after > before:
            return 0.0
        inputs = {
            "calloff": calloff.pk,
            "contract": calloff.contract.reference,
            "asked_kw": round(calloff.kw, 3),
            "counted_before_kw": round(before, 3),
            "confirmed_kw": round(after, 3),
            "reported_at": calloff.reported_at.isoformat() if calloff.reported_at else None,
            "confirm_by": calloff.confirm_by.isoformat() if calloff.confirm_by else None,
        }
        reason = _shortfall_reason(calloff, at, after)
        audit_record(action="asp.fallback", rule=ASP_RULE, target=event, reason=reason, inputs=inputs)
    if event.status == EventStatus.ACTIVE:
        added = event_top_up(event_id=event.pk, reason=f"ASP fallback: {reason}", inputs=inputs, at=at)
        logger.info("ASP call-off %s short by %.1f kW: %d chargers added", calloff_id, before - after, len(added))
    return before - after


def _settle(calloff: AspCallOff, at: dt.datetime, *, confirmed: float) -> None:
    """The deadline has passed: record, once, what the provider had confirmed by then."""
    calloff.settled_at = at
    calloff.save(update_fields=["settled_at"])
    audit_record(
        action="asp.deadline",
        rule=ASP_RULE,
        target=CurtailmentEvent(pk=calloff.event_id),
        reason=f"{calloff.contract.reference} confirmed {confirmed:.1f} of {calloff.kw:.1f} kW by its deadline",
        inputs={
            "calloff": calloff.pk,
            "asked_kw": round(calloff.kw, 3),
            "confirmed_kw": round(confirmed, 3),
            "confirm_by": calloff.confirm_by.isoformat() if calloff.confirm_by else None,
            "seen_at": calloff.seen_at.isoformat() if calloff.seen_at else None,
        },
    )


def _shortfall_reason(calloff: AspCallOff, at: dt.datetime, confirmed: float) -> str:
    reference = calloff.contract.reference
    if calloff.reported_at is None:
        return f"{reference} reported no delivery by its deadline: chargers cover {calloff.kw:.1f} kW"
    if confirmed <= 0 and calloff.confirmed_kw > 0:
        return f"{reference} stopped reporting: its {calloff.confirmed_kw:.1f} kW are no longer confirmed"
    return f"{reference} confirms {confirmed:.1f} of {calloff.kw:.1f} kW: chargers cover the rest"


def asp_calloffs_check(*, at: dt.datetime | None = None) -> int:
    """Recount live call-offs and release ended events'. Idempotent; returns how many fell short."""
    at = at or timezone.now()
    short = 0
    for calloff in AspCallOff.objects.filter(status=AspCallOffStatus.CALLED).select_related("event"):
        if calloff.event.status == EventStatus.ENDED:
            asp_calloffs_release(event_id=calloff.event_id, at=at)
            continue
        short += calloff_recount(calloff_id=calloff.pk, at=at) > 0
    return short
