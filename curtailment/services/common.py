"""Helpers shared by the curtailment services: state moves, pushes, feeder status."""

from __future__ import annotations

import logging

from django.db.models import Sum
from django.utils import timezone

from curtailment.choices import ActionEndReason, ActionStatus
from curtailment.events import (
    action_payload,
    action_pushed,
    event_payload,
    event_pushed,
    service_request_payload,
    service_request_pushed,
)
from curtailment.models import LIVE_ACTION_STATES, CurtailmentAction, CurtailmentEvent
from dcc.models import ServiceRequest
from feeders.choices import FeederStatus
from feeders.services import feeder_status_refresh, feeder_status_set

logger = logging.getLogger("curtailment")

# Actions whose kW the event can count on: dispatched or about to be, not late or failed.
COUNTING_ACTION_STATES = [
    ActionStatus.PLANNED,
    ActionStatus.BOOST_SETUP,
    ActionStatus.SENT,
    ActionStatus.ACKNOWLEDGED,
    ActionStatus.CONFIRMED,
]
# Actions still waiting for the device to confirm the 7.6.
UNCONFIRMED_ACTION_STATES = [
    ActionStatus.PLANNED,
    ActionStatus.BOOST_SETUP,
    ActionStatus.SENT,
    ActionStatus.ACKNOWLEDGED,
]


def action_move(action: CurtailmentAction, *, from_states, to_state: str, **fields) -> bool:
    """Compare-and-set an action's status: False when another worker moved it first."""
    moved = CurtailmentAction.objects.filter(pk=action.pk, status__in=list(from_states)).update(
        status=to_state, **fields
    )
    if moved:
        action.status = to_state
        for name, value in fields.items():
            setattr(action, name, value)
        push_action(action)
    return bool(moved)


def action_end(action: CurtailmentAction, *, reason: str, ended_at=None, from_states=None) -> bool:
    """End a live action (compare-and-set), ``ended_at`` clamped to its interval: the device reverts by
    itself at the command's end."""
    ended_at = clamp_end(action, ended_at or timezone.now())
    if ended_at >= action.expected_end_at:
        # Ended by its duration on the device, if the device ever took the command: one
        # never confirmed switched nothing off and counts nothing.
        reason = ActionEndReason.DURATION if action.confirmed_at is not None else ActionEndReason.UNCONFIRMED
    return action_move(
        action,
        from_states=from_states or LIVE_ACTION_STATES,
        to_state=ActionStatus.ENDED,
        ended_at=ended_at,
        end_reason=action.end_reason or reason,
    )


def clamp_end(action: CurtailmentAction, moment):
    return min(max(moment, action.started_at), action.expected_end_at)


def live_kw(event_id: int) -> tuple[int, float]:
    rows = CurtailmentAction.objects.filter(event_id=event_id, status__in=COUNTING_ACTION_STATES).aggregate(
        kw=Sum("expected_kw")
    )
    count = CurtailmentAction.objects.filter(event_id=event_id, status__in=LIVE_ACTION_STATES).count()
    return count, rows["kw"] or 0.0


def push_event(event: CurtailmentEvent) -> None:
    count, kw = live_kw(event.pk)
    event_pushed(event_payload(event, live_actions=count, live_kw=kw))


def push_action(action: CurtailmentAction) -> None:
    hcalcs = action.hcalcs  # cached by select_related in the services
    feeder_id = action.event.feeder_id
    action_pushed(action_payload(action, feeder_id=feeder_id, hcalcs_eui64=hcalcs.eui64))


def push_service_request(service_request: ServiceRequest, action: CurtailmentAction) -> None:
    service_request_pushed(
        service_request_payload(service_request, event_id=action.event_id, feeder_id=action.event.feeder_id)
    )


def feeder_status_after_event(feeder) -> None:
    """Put the feeder back to the status its data says (at risk, normal or offline)."""
    try:
        feeder_status_refresh(feeder=feeder)
    except Exception:  # status is a summary; the event's own state is the truth
        logger.exception("could not refresh the status of feeder %s", feeder.pk)


def feeder_status_curtailing(feeder) -> None:

    feeder_status_set(feeder=feeder, status=FeederStatus.CURTAILING)


# High 32 bits of the advisory-lock key: "curtailment action" (any constant unique in the
# project), low 32 bits: the action id.
