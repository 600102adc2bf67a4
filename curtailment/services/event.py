"""Opening, topping up, releasing and closing curtailment events (one open event per feeder, by constraint)."""

from __future__ import annotations

import datetime as dt
import math

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max, Q
from django.utils import timezone

from core.audit import audit_record, audit_record_once
from core.models import AuditEntry
from curtailment.budget import command_budget
from curtailment.choices import (
    ActionEndReason,
    ActionKind,
    ActionStatus,
    EventEndReason,
    EventStatus,
    EventTrigger,
)
from curtailment.models import LIVE_ACTION_STATES, CurtailmentAction, CurtailmentEvent
from curtailment.selection import Limited, Plan, plan_audit_inputs, selection_candidates, selection_plan
from curtailment.services.asp import asp_call_off, asp_calloffs_audit, asp_calloffs_release
from curtailment.services.common import (
    COUNTING_ACTION_STATES,
    action_end,
    action_move,
    feeder_status_after_event,
    feeder_status_curtailing,
    push_event,
)
from dnoctl.queueing import task_send_on_commit
from feeders.choices import FeederStatus

AUTO_RULE = "auto-curtail"
# Customers are told of an event this many seconds after its chargers were picked (NF2/NF4
# ask for a notice, not an instant one), so the worker's queue serves the DCC commands first.
NOTIFY_AFTER_S = 10


class EventAlreadyOpen(ValidationError):
    """The feeder already has an open event (one open event per feeder)."""


def knob(name: str):
    return settings.DNOCTL[name]


def required_reduction_kw(*, feeder, kw: float, load_percent: float) -> float:
    """kW above the feeder's clear level plus ``REDUCTION_MARGIN``, from the worst phase."""
    if kw is None or load_percent is None or load_percent <= feeder.clear_percent or load_percent <= 0:
        return 0.0
    excess = kw * (load_percent - feeder.clear_percent) / load_percent
    return excess * (1.0 + float(knob("REDUCTION_MARGIN")))


def _actor(requested_by) -> dict:
    return {"actor_user": requested_by} if requested_by is not None else {"rule": AUTO_RULE}


# --- opening -------------------------------------------------------------------------------


def curtailment_event_start(
    *,
    feeder,
    reduction_kw: float,
    duration_minutes: int,
    reason: str,
    requested_by=None,
    trigger: str = EventTrigger.MANUAL,
    alert=None,
    inputs: dict | None = None,
    at: dt.datetime | None = None,
    while_at_risk: bool = False,
) -> CurtailmentEvent:
    """Open an event on ``feeder``: ASP call-offs first (NF14), then chargers; audited, tasks queued on
    commit. Raises :class:`EventAlreadyOpen` or ``ValidationError``.

    ``while_at_risk`` events last while the feeder is at risk, open even when nothing can be picked
    yet.
    """
    if trigger not in EventTrigger.values:
        raise ValidationError({"trigger": f"must be one of {', '.join(EventTrigger.values)}"})
    try:
        reduction_kw = float(reduction_kw)
    except (TypeError, ValueError):
        raise ValidationError({"reduction_kw": "must be a number of kW"}) from None
    if not math.isfinite(reduction_kw) or reduction_kw <= 0:
        raise ValidationError({"reduction_kw": "must be a positive number of kW"})
    if isinstance(duration_minutes, bool) or not isinstance(duration_minutes, int) or not 1 <= duration_minutes <= 1440:
        raise ValidationError({"duration_minutes": "must be a whole number of minutes from 1 to 1440"})
    if trigger == EventTrigger.MANUAL and requested_by is None:
        raise ValidationError({"requested_by": "a manual event needs the operator who asked for it"})
    now = at or timezone.now()
    with transaction.atomic():
        try:
            with transaction.atomic():
                event = CurtailmentEvent.objects.create(
                    feeder=feeder,
                    alert=alert,
                    trigger=trigger,
                    started_at=now,
                    planned_end_at=now + dt.timedelta(minutes=duration_minutes),
                    required_reduction_kw=reduction_kw,
                    requested_by=requested_by,
                    reason=reason,
                    while_at_risk=while_at_risk,
                )
        except IntegrityError as exc:
            raise EventAlreadyOpen(f"feeder {feeder.code} already has an open curtailment event") from exc
        asp_kw, calloffs = _asp_call_off(event=event, at=now)
        remainder = max(0.0, reduction_kw - asp_kw)
        plan, ineligible = _plan(event=event, required_kw=remainder, at=now, exclude=())
        actions = _actions_create(event=event, plan=plan, at=now)
        decision = {
            **(inputs or {}),
            "feeder": feeder.code,
            "reduction_kw": round(reduction_kw, 3),
            "duration_minutes": duration_minutes,
            "asp_calloffs": calloffs,
            "asp_kw": round(asp_kw, 3),
            **plan_audit_inputs(plan, ineligible),
        }
        event.asp_calloff_kw = asp_kw
        event.decision = decision
        event.save(update_fields=["asp_calloff_kw", "decision"])
        audit_record(action="event.start", target=event, reason=reason, inputs=decision, **_actor(requested_by))
        if not actions and asp_kw <= 0 and not while_at_risk:
            # Nothing can be switched off: say so at once rather than show a silent event.
            event.status, event.ended_at = EventStatus.ENDED, now
            event.end_reason = EventEndReason.NOTHING_TO_CURTAIL
            event.save(update_fields=["status", "ended_at", "end_reason"])
            audit_record(
                action="event.end",
                rule=AUTO_RULE,
                target=event,
                reason="no eligible charger with allowance left and no ASP contract",
                inputs={"shortfall_kw": round(plan.shortfall_kw, 3)},
            )
            push_event(event)
            return event
        if actions or asp_kw > 0:
            feeder_status_curtailing(feeder)
        feeder_managed_mark(feeder=feeder, at=now)
        _actions_launch(event=event, actions=actions)
        push_event(event)
        _protection_check_on_commit(feeder.pk)
    return event


def _protection_check_on_commit(feeder_id: int) -> None:
    from curtailment import tasks

    task_send_on_commit(tasks.feeder_protection_check, (feeder_id,))


def _asp_call_off(*, event: CurtailmentEvent, at: dt.datetime) -> tuple[float, list[dict]]:
    """NF14: call off the ASP contracts covering the feeder first, up to the need."""
    kw = asp_call_off(event=event, kw=event.required_reduction_kw, at=at)
    return kw, asp_calloffs_audit(event=event)


def _plan(
    *, event: CurtailmentEvent, required_kw: float, at: dt.datetime, exclude, limited: list[Limited] = ()
) -> tuple[Plan, dict[int, str]]:
    minutes_left = int((event.planned_end_at - at).total_seconds() // 60)
    if required_kw <= 0 or minutes_left < 1:
        return Plan(picks=[], decisions=[], covered_kw=0.0, required_kw=max(required_kw, 0.0)), {}
    candidates, ineligible = selection_candidates(feeder=event.feeder, at=at, exclude_hcalcs_ids=exclude)
    plan = selection_plan(
        candidates=candidates,
        required_kw=required_kw,
        event_minutes=minutes_left,
        budget=command_budget(at=at),
        limited=limited,
    )
    return plan, ineligible


def _actions_create(
    *, event: CurtailmentEvent, plan: Plan, at: dt.datetime, follows: dict[int, int] | None = None
) -> list[CurtailmentAction]:
    """One planned action per pick; ``follows`` maps a charger to the live action it continues."""
    follows = follows or {}
    actions = [
        CurtailmentAction(
            event=event,
            hcalcs_id=candidate.hcalcs_id,
            mpan_id=candidate.mpan_id,
            status=ActionStatus.PLANNED,
            kind=ActionKind.LIMIT if candidate.hcalcs_id in plan.limits else ActionKind.SWITCH_OFF,
            level_percent=plan.limits[candidate.hcalcs_id].level if candidate.hcalcs_id in plan.limits else None,
            demand_kw=plan.limits[candidate.hcalcs_id].demand_kw if candidate.hcalcs_id in plan.limits else None,
            planned_minutes=minutes,
            expected_kw=candidate.expected_kw,
            use_local_delivery=candidate.poor_wan,
            started_at=at,
            expected_end_at=at + dt.timedelta(minutes=minutes),
            extends_id=follows.get(candidate.hcalcs_id),
            selection={
                "used_24h": candidate.used_24h,
                "used_30d": candidate.used_30d,
                "allowance": candidate.allowance,
                "reachability": candidate.reachability,
                "override_allowed": candidate.override_allowed,
                "on_boost_button": candidate.on_boost_button,
                "customer_id": candidate.customer_id,
            },
        )
        for candidate, minutes in plan.picks
    ]
    return CurtailmentAction.objects.bulk_create(actions)


def _actions_launch(*, event: CurtailmentEvent, actions: list[CurtailmentAction]) -> None:
    if not actions:
        return
    from curtailment import tasks

    ids = [action.pk for action in actions]
    hcalcs_ids = [action.hcalcs_id for action in actions]
    # With the broker down none of these raises (dnoctl.queueing): the minute re-check
    # resumes the dispatches and late checks, and the notices sweep sends the notices.
    transaction.on_commit(lambda: tasks.actions_dispatch_queue(ids))
    # One countdown per batch, not per charger: it marks late every action of the event
    # still unconfirmed after CONFIRMATION_TIMEOUT_S (the minute re-check does the same).
    task_send_on_commit(tasks.event_confirmation_check, (event.pk,), countdown=int(knob("CONFIRMATION_TIMEOUT_S")) + 1)
    # Notices are queued in their own task, a little later: writing (and sending) a hundred
    # customers' notices must not queue ahead of the commands that protect the feeder.
    task_send_on_commit(tasks.event_customers_notify, (event.pk, hcalcs_ids), countdown=NOTIFY_AFTER_S)


def feeder_managed_mark(*, feeder, at: dt.datetime) -> None:
    """NF10: ``managed_since`` is the first of the current run of consecutive managed months."""
    month = at.date().replace(day=1)
    previous = CurtailmentEvent.objects.filter(
        feeder_id=feeder.pk, started_at__lt=at.replace(day=1, hour=0, minute=0)
    ).aggregate(last=Max("started_at"))["last"]
    prior_month = (month - dt.timedelta(days=1)).replace(day=1)
    consecutive = previous is not None and previous.date().replace(day=1) == prior_month
    this_month = CurtailmentEvent.objects.filter(
        feeder_id=feeder.pk, started_at__gte=dt.datetime.combine(month, dt.time(), tzinfo=dt.UTC), started_at__lt=at
    ).exists()
    if feeder.managed_since is not None and (consecutive or this_month):
        return
    since = feeder.managed_since if (consecutive and feeder.managed_since) else month
    type(feeder).objects.filter(pk=feeder.pk).update(managed_since=since)
    feeder.managed_since = since


# --- topping up ----------------------------------------------------------------------------


def event_top_up(
    *,
    event_id: int,
    reason: str,
    extra_kw: float = 0.0,
    inputs: dict | None = None,
    at: dt.datetime | None = None,
    confirmed_only: bool = False,
) -> list[int]:
    """Add chargers when live kW fall short (row-locked per event). Make before break: actions ending
    within ``ROTATION_LEAD_S`` no longer count."""
    now = at or timezone.now()
    with transaction.atomic():
        event = CurtailmentEvent.objects.select_for_update().select_related("feeder").get(pk=event_id)
        if event.status != EventStatus.ACTIVE:
            return []
        if extra_kw > 0:
            event.required_reduction_kw += extra_kw
            event.save(update_fields=["required_reduction_kw"])
        live = list(event.actions.select_related("hcalcs").filter(status__in=LIVE_ACTION_STATES))
        ending = _ending_within_lead(event=event, live=live, at=now)
        counted = [ActionStatus.CONFIRMED] if confirmed_only else COUNTING_ACTION_STATES
        counting_kw = sum(a.expected_kw for a in live if a.status in counted and a.pk not in ending.values())
        needed = event.required_reduction_kw - event.asp_calloff_kw - counting_kw
        limited = _limited_now(live=live, ending=ending, confirmed_only=confirmed_only)
        if needed <= 0.01:
            relaxed = _limits_relax(event=event, needed=needed, limited=limited, live=live, reason=reason, at=now)
            if extra_kw > 0 or relaxed:
                push_event(event)
            return []
        exclude = {a.hcalcs_id for a in live if a.pk not in ending.values()} | chargers_not_asked_again(event)
        plan, ineligible = _plan(event=event, required_kw=needed, at=now, exclude=exclude, limited=limited)
        actions = _actions_create(event=event, plan=plan, at=now, follows=ending)
        changed = _limits_change(event=event, plan=plan, live=live, reason=reason, at=now)
        decision = {
            **(inputs or {}),
            "extra_kw": round(extra_kw, 3),
            "counting_kw": round(counting_kw, 3),
            "confirmed_only": confirmed_only,
            "ending_within_lead": sorted(ending.values()),
            "follow_ons": {a.pk: a.extends_id for a in actions if a.extends_id},
            "not_again_in_event": sorted(exclude),
            **plan_audit_inputs(plan, ineligible),
        }
        if actions or changed:
            audit_record(action="event.top_up", rule=AUTO_RULE, target=event, reason=reason, inputs=decision)
            if event.feeder.status != FeederStatus.CURTAILING:  # an event that had nothing to pick at first
                feeder_status_curtailing(event.feeder)
        else:
            # Re-checked every minute: record the first "nothing to pick", not each repeat.
            audit_record_once(
                action="event.top_up",
                rule=AUTO_RULE,
                target=event,
                reason=f"{reason}: nothing to pick",
                inputs=decision,
            )
        _actions_launch(event=event, actions=actions)
        push_event(event)
    return [action.pk for action in actions]


def _limits_relax(
    *,
    event: CurtailmentEvent,
    needed: float,
    limited: list[Limited],
    live: list[CurtailmentAction],
    reason: str,
    at: dt.datetime,
) -> list[int]:
    """The event holds more than it needs: raise or lift limits; switched-off chargers run their course."""
    if not limited or needed >= -0.01:
        return []
    plan = selection_plan(
        candidates=[],
        required_kw=needed,
        event_minutes=max(1, int((event.planned_end_at - at).total_seconds() // 60)),
        limited=limited,
    )
    changed = _limits_change(event=event, plan=plan, live=live, reason=f"{reason}: the load needs less", at=at)
    if changed:
        audit_record(
            action="event.limits_follow",
            rule=AUTO_RULE,
            target=event,
            reason=f"{-needed:.1f} kW more held than the event needs: limits raised or lifted",
            inputs={"surplus_kw": round(-needed, 3), "changed_actions": changed, **plan_audit_inputs(plan, {})},
        )
    return changed


def _limited_now(*, live: list[CurtailmentAction], ending: dict[int, int], confirmed_only: bool) -> list[Limited]:
    """The event's APC chargers held to a level now and staying so (none with ``confirmed_only``)."""
    if confirmed_only:
        return []
    # One per charger: a device holds only its latest 7.16, so a charger with two confirmed
    # limits (a follow-on and the action it extends, both live for a moment) is its newest.
    newest = {a.hcalcs_id: a for a in sorted(live, key=lambda a: a.pk) if a.kind == ActionKind.LIMIT}
    return [
        Limited(
            action_id=a.pk,
            hcalcs_id=a.hcalcs_id,
            max_kw=a.hcalcs.rated_kw,
            demand_kw=a.demand_kw if a.demand_kw is not None else a.hcalcs.rated_kw,
            level=a.level_percent,
            reduction_kw=a.expected_kw,
        )
        for a in newest.values()
        if a.status == ActionStatus.CONFIRMED and a.pk not in ending.values() and a.level_percent is not None
    ]


def _limits_change(
    *, event: CurtailmentEvent, plan: Plan, live: list[CurtailmentAction], reason: str, at: dt.datetime
) -> list[int]:
    """Move the limited chargers to the plan's levels (a 7.16 each, audited)."""
    from curtailment import tasks

    by_id = {a.pk: a for a in live}
    changed, lifted = [], []
    budget = command_budget(at=at) if any(change.change == "raise" for change, _kw in plan.changes.values()) else None
    for action_id, (change, reduction_kw) in plan.changes.items():
        action = by_id[action_id]
        if change.change == "raise" and (refusal := budget.refusal({"7.16": 1})):
            # A raise only gives the customer back some kW: it waits for the DCC command
            # budget (a lower limit protects the feeder and a lift ends a counted minute:
            # those always go).
            audit_record_once(action="action.limit_raise_deferred", rule=AUTO_RULE, target=action, reason=refusal)
            continue
        if change.change == "raise":
            budget.take({"7.16": 1})
        if change.change == "lift":
            if action_move(
                action,
                from_states=[ActionStatus.CONFIRMED],
                to_state=ActionStatus.RELEASING,
                end_reason=ActionEndReason.RELEASED,
            ):
                lifted.append(action_id)
        elif CurtailmentAction.objects.filter(pk=action_id, status=ActionStatus.CONFIRMED).update(
            level_percent=change.level, expected_kw=reduction_kw
        ):
            changed.append(action_id)
        else:
            continue
        audit_record(
            action=f"action.limit_{change.change}",
            rule=AUTO_RULE,
            target=action,
            reason=f"{reason}: {change.change} from {change.previous_level} % to {change.level} %",
            inputs={
                "event_id": event.pk,
                "level": change.level,
                "previous_level": change.previous_level,
                "reduction_kw": round(reduction_kw, 3),
                "at": at.isoformat(),
            },
        )
    for action_id in changed:
        task_send_on_commit(tasks.action_limit_change, (action_id,))
    if lifted:
        transaction.on_commit(lambda: tasks.actions_release_queue(lifted))
    return changed + lifted


def rotation_lead() -> dt.timedelta:
    return dt.timedelta(seconds=int(knob("ROTATION_LEAD_S")))


def _ending_within_lead(*, event: CurtailmentEvent, live: list[CurtailmentAction], at: dt.datetime) -> dict[int, int]:
    """Charger -> its action ending within the rotation lead while the event goes on."""
    horizon = at + rotation_lead()
    if event.planned_end_at <= horizon:
        return {}
    return {a.hcalcs_id: a.pk for a in live if a.status in COUNTING_ACTION_STATES and a.expected_end_at <= horizon}


# Chargers that let this event down are not asked again within it: the customer overrode
# (boost), or the command failed or was never confirmed.
LET_DOWN_END_REASONS = [
    ActionEndReason.OVERRIDE,
    ActionEndReason.FAILED,
    ActionEndReason.LATE,
    ActionEndReason.UNCONFIRMED,
]


def chargers_not_asked_again(event: CurtailmentEvent) -> set[int]:
    """Chargers of the event that let it down (see ``LET_DOWN_END_REASONS``)."""
    return set(
        event.actions.filter(
            Q(end_reason__in=LET_DOWN_END_REASONS) | Q(status__in=[ActionStatus.FAILED, ActionStatus.LATE])
        ).values_list("hcalcs_id", flat=True)
    )


# --- releasing and closing -----------------------------------------------------------------


def curtailment_event_cancel(*, event: CurtailmentEvent, reason: str, cancelled_by=None) -> CurtailmentEvent:
    """Cancel an open event: every live charger gets a reset. Idempotent."""
    if not (reason or "").strip():
        raise ValidationError({"reason": "say why the event is cancelled"})
    event_release(
        event_id=event.pk,
        end_reason=EventEndReason.CANCELLED,
        action_reason=ActionEndReason.CANCELLED,
        reason=reason,
        **_actor(cancelled_by),
    )
    event.refresh_from_db()
    return event


def event_release(
    *,
    event_id: int,
    end_reason: str,
    action_reason: str,
    reason: str,
    actor_user=None,
    rule: str | None = None,
    inputs: dict | None = None,
    at: dt.datetime | None = None,
) -> bool:
    """Move an active event to releasing (compare-and-set), resetting its chargers and ASP call-offs."""
    from curtailment import tasks

    now = at or timezone.now()
    with transaction.atomic():
        moved = CurtailmentEvent.objects.filter(pk=event_id, status=EventStatus.ACTIVE).update(
            status=EventStatus.RELEASING, end_reason=end_reason
        )
        if not moved:
            return False
        event = CurtailmentEvent.objects.select_related("feeder").get(pk=event_id)
        to_reset = []
        for action in event.actions.select_related("hcalcs", "event").filter(status__in=LIVE_ACTION_STATES):
            if action.status == ActionStatus.PLANNED:
                action_end(action, reason=action_reason, ended_at=now, from_states=[ActionStatus.PLANNED])
            elif action_move(
                action,
                from_states=[s for s in LIVE_ACTION_STATES if s not in (ActionStatus.PLANNED, ActionStatus.RELEASING)],
                to_state=ActionStatus.RELEASING,
                end_reason=action_reason,
            ):
                to_reset.append(action.pk)
        asp_calloffs_release(event_id=event_id, at=now)
        audit_record(
            action="event.release",
            target=event,
            reason=reason,
            inputs={**(inputs or {}), "end_reason": end_reason, "reset_actions": to_reset},
            actor_user=actor_user,
            rule=rule if actor_user is None else None,
        )
        transaction.on_commit(lambda: tasks.actions_release_queue(to_reset))
        push_event(event)
        event_close_if_done(event=event, at=now)
    return True


def event_close_if_done(*, event: CurtailmentEvent, at: dt.datetime | None = None) -> bool:
    """End the event once no charger is live (compare-and-set), then re-check protection at once."""
    from curtailment.services.lifetime import event_lives_while_at_risk

    at = at or timezone.now()
    if event.actions.filter(status__in=LIVE_ACTION_STATES).exists():
        return False
    with transaction.atomic():
        # Under the event's row lock (as top-ups take it), look again: no charger may be
        # added between the check and the close.
        locked = CurtailmentEvent.objects.select_for_update().select_related("feeder").filter(pk=event.pk).first()
        if locked is None or event.actions.filter(status__in=LIVE_ACTION_STATES).exists():
            return False
        releasing = CurtailmentEvent.objects.filter(pk=event.pk, status=EventStatus.RELEASING).update(
            status=EventStatus.ENDED, ended_at=at
        )
        finished = 0
        if not releasing and not event_lives_while_at_risk(locked, locked.feeder):
            # The planned end as stored now: a re-check may have moved it on.
            finished = CurtailmentEvent.objects.filter(
                pk=event.pk, status=EventStatus.ACTIVE, planned_end_at__lte=at
            ).update(status=EventStatus.ENDED, ended_at=at, end_reason=EventEndReason.DURATION)
        if not (releasing or finished):
            return False
        asp_calloffs_release(event_id=event.pk, at=at)
        event.refresh_from_db()
        # A released event ends in the name of whoever released it (the operator who
        # cancelled, or the rule that released it early); one that ran its course, the rule's.
        ended_by = event_released_by(event) if releasing else {"rule": AUTO_RULE}
        audit_record(
            action="event.end",
            target=event,
            reason=event.get_end_reason_display() or "ended",
            inputs={"end_reason": event.end_reason, "actions": event.actions.count()},
            **ended_by,
        )
        push_event(event)
        transaction.on_commit(lambda: feeder_status_after_event(event.feeder))
        _protection_check_on_commit(event.feeder_id)
    return True


def event_released_by(event: CurtailmentEvent) -> dict:
    """Who released the event, from its ``event.release`` audit entry, as :func:`audit_record` kwargs."""
    entry = (
        AuditEntry.objects.filter(
            target_type=CurtailmentEvent._meta.label_lower, target_id=str(event.pk), action="event.release"
        )
        .select_related("actor_user")
        .order_by("-at", "-id")
        .first()
    )
    if entry is None:
        return {"rule": AUTO_RULE}
    if entry.actor_user is not None:
        return {"actor_user": entry.actor_user}
    return {"rule": entry.actor.removeprefix("rule:")}
