"""The minute-by-minute re-check of open events (beat). Everything is re-derived from the database, so
a re-check finishes what a dead worker left."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from core.audit import audit_record_once
from curtailment.choices import ActionEndReason, ActionStatus, EventEndReason, EventStatus, EventTrigger
from curtailment.models import LIVE_ACTION_STATES, OPEN_EVENT_STATES, CurtailmentAction, CurtailmentEvent
from curtailment.selectors import feeder_below_clear_for
from curtailment.services.closed_loop import event_need_follow, release_would_bring_overload_back, settled_load
from curtailment.services.common import UNCONFIRMED_ACTION_STATES, action_end, logger, push_event
from curtailment.services.event import (
    AUTO_RULE,
    event_close_if_done,
    event_release,
    event_top_up,
    knob,
    required_reduction_kw,
)
from dcc.choices import ServiceRequestState
from dcc.models import ServiceRequest
from dnoctl.queueing import task_send_on_commit

# Seconds after the latest confirmation before a feeder still above its at-risk level gets
# more chargers ("still above threshold a minute after confirmation").
TOP_UP_AFTER_CONFIRMATION_S = 60
# An action stuck before acknowledgement this long had its task lost (a worker died):
# the re-check queues it again; the stored RequestID makes the resend safe.
STUCK_AFTER_S = 15


def event_recheck(*, event_id: int, now: dt.datetime | None = None) -> str:
    """One look at an open event: reconcile, resume, mark late, release early, close, top up. Idempotent."""
    from curtailment.services.lifetime import event_lifetime_review

    now = now or timezone.now()
    event = CurtailmentEvent.objects.select_related("feeder").filter(pk=event_id).first()
    if event is None or event.status not in OPEN_EVENT_STATES:
        return "closed"
    actions_reconcile(event=event, now=now)
    _actions_resume(event=event, now=now)
    event_confirmations_check(event_id=event.pk, now=now)
    event.refresh_from_db()
    if event.status == EventStatus.RELEASING:
        return "closed" if event_close_if_done(event=event, at=now) else "winding down"
    feeder = event.feeder
    hold = int(knob("CLEAR_HOLD_MINUTES"))
    releasable = event.trigger != EventTrigger.MANUAL or event.while_at_risk
    if (
        releasable
        and feeder_below_clear_for(feeder=feeder, minutes=hold, at=now)
        and not _release_waits_for_limits(event=event, now=now)
    ):
        event_release(
            event_id=event.pk,
            end_reason=EventEndReason.EARLY_RELEASE,
            action_reason=ActionEndReason.RELEASED,
            reason=f"below the clear level {feeder.clear_percent}% for {hold} minutes",
            rule=AUTO_RULE,
            inputs={"clear_percent": feeder.clear_percent, "hold_minutes": hold},
            at=now,
        )
        return "released"
    goes_on = event_lifetime_review(event=event, feeder=feeder, now=now)
    if not goes_on and now >= event.planned_end_at:
        return "closed" if event_close_if_done(event=event, at=now) else "winding down"
    extra, inputs = _extra_needed(event=event, now=now)
    if not extra:
        event_need_follow(event=event, now=now)  # the limits follow the load down (closed loop)
    added = event_top_up(
        event_id=event.pk,
        reason="feeder still above its at-risk level after confirmation" if extra else "keep the required kW covered",
        extra_kw=extra,
        inputs=inputs,
        at=now,
    )
    return f"added {len(added)}" if added else "steady"


def _release_waits_for_limits(*, event: CurtailmentEvent, now: dt.datetime) -> bool:
    """Early release waits while the event's limits alone keep the load below the clear level (audited once)."""
    if not release_would_bring_overload_back(event=event, now=now):
        return False
    audit_record_once(
        action="event.release_deferred",
        rule=AUTO_RULE,
        target=event,
        reason="below the clear level only because of the limits: they are lifted as the load falls instead",
    )
    return True


def event_confirmations_check(*, event_id: int, now: dt.datetime | None = None) -> int:
    """Mark late the actions unconfirmed after ``CONFIRMATION_TIMEOUT_S`` and replace them in one top-up."""
    from curtailment.services.action import action_mark_late, command_sent_at

    now = now or timezone.now()
    timeout = dt.timedelta(seconds=int(knob("CONFIRMATION_TIMEOUT_S")))
    unconfirmed = (
        CurtailmentAction.objects.select_related("event", "hcalcs")
        .filter(event_id=event_id, status__in=UNCONFIRMED_ACTION_STATES, started_at__lte=now - timeout)
        .annotate(command_sent_at=command_sent_at())
    )
    late = [action.pk for action in unconfirmed if action_mark_late(action=action, now=now)]
    if late:
        push_event(CurtailmentEvent.objects.get(pk=event_id))
        event_top_up(event_id=event_id, reason=f"replace late actions {late}", at=now)
    return len(late)


def _extra_needed(*, event: CurtailmentEvent, now: dt.datetime) -> tuple[float, dict]:
    feeder = event.feeder
    settled = settled_load(event=event, now=now)
    if settled is None:
        return 0.0, {}
    load, last_confirmed = settled
    if now - last_confirmed < dt.timedelta(seconds=TOP_UP_AFTER_CONFIRMATION_S):
        return 0.0, {}
    if load.load_percent < feeder.at_risk_percent:
        return 0.0, {}
    extra = required_reduction_kw(feeder=feeder, kw=load.kw, load_percent=load.load_percent)
    return extra, {
        "load_kw": load.kw,
        "load_percent": load.load_percent,
        "at_risk_percent": feeder.at_risk_percent,
        "clear_percent": feeder.clear_percent,
        "last_confirmed_at": last_confirmed.isoformat(),
    }


def actions_reconcile(*, event: CurtailmentEvent, now: dt.datetime) -> int:
    """Record actions past their planned end as ended then, so the limits count the real interval."""
    ended = 0
    for action in event.actions.select_related("hcalcs", "event").filter(
        status__in=LIVE_ACTION_STATES, expected_end_at__lte=now
    ):
        ended += action_end(action, reason=ActionEndReason.DURATION, ended_at=action.expected_end_at)
    if ended:
        push_event(event)  # the overview's live counts drop at once, not on its next poll
    return ended


def _actions_resume(*, event: CurtailmentEvent, now: dt.datetime) -> None:
    """Queue again the tasks a dead worker was running (the services are idempotent)."""
    from curtailment import tasks

    stuck_before = now - dt.timedelta(seconds=STUCK_AFTER_S)
    dispatch = list(
        event.actions.filter(
            status__in=[ActionStatus.PLANNED, ActionStatus.BOOST_SETUP, ActionStatus.SENT],
            started_at__lte=stuck_before,
        ).values_list("pk", flat=True)
    )
    reset_answered = ServiceRequest.objects.filter(
        Q(action_id=OuterRef("pk"), srv="7.8") | Q(pk=OuterRef("lift_request_id")),  # a limit's lift: 7.16 at 100 %
        state__in=[ServiceRequestState.ACKNOWLEDGED, ServiceRequestState.RESPONDED],
    )
    release = list(
        event.actions.filter(status=ActionStatus.RELEASING).exclude(Exists(reset_answered)).values_list("pk", flat=True)
    )
    if dispatch or release:
        logger.info("event %s: resuming dispatch of %s and release of %s", event.pk, dispatch, release)
        transaction.on_commit(lambda: tasks.actions_dispatch_queue(dispatch))
        for action_id in release:
            task_send_on_commit(tasks.action_release, (action_id,))
