"""Adapter to the consent app's customer notifications (NF2/NF4): the consent app picks channel and
frequency; the engine says whose charger is paused or limited, for which window, and whether boost
overrides it."""

from __future__ import annotations

import datetime as dt
import logging

from django.db import transaction
from django.utils import timezone

from consent.notifications import ChargerPause, notification_event_queue
from curtailment.choices import ActionKind, ActionStatus
from curtailment.models import CurtailmentAction
from dcc.models import ServiceRequest
from dnoctl.queueing import task_send_on_commit

logger = logging.getLogger("curtailment")

# Still deciding whether the charger is switched off at all: the 7.9 before it may fail
# (then it is not curtailed) or its dispatch has not run yet.
UNDECIDED_STATES = (ActionStatus.PLANNED, ActionStatus.BOOST_SETUP)
# Seconds between looks at undecided actions; after the confirmation timeout they are
# decided one way or the other (confirmed, late, failed).
NOTIFY_RETRY_S = 10


def customers_notify(*, event, hcalcs_ids: list[int]) -> list[int]:
    """Queue the notices of the event's curtailed chargers; returns the still undecided HCALCS, retried
    after ``NOTIFY_RETRY_S`` so nobody is told of a pause that may not happen. Idempotent per
    (event, customer); a failure never stops curtailment."""
    if not hcalcs_ids:
        return []

    now = timezone.now()
    pauses, undecided = _pauses(event=event, hcalcs_ids=hcalcs_ids, now=now)
    try:
        with transaction.atomic():
            if pauses:
                notification_event_queue(event=event, pauses=pauses)
            if undecided:
                from curtailment import tasks

                task_send_on_commit(tasks.event_customers_notify, (event.pk, undecided), countdown=NOTIFY_RETRY_S)
    except Exception:
        logger.exception("could not queue notifications for event %s", event.pk)
    return undecided


def _pauses(*, event, hcalcs_ids: list[int], now: dt.datetime) -> tuple[list, list[int]]:
    """The ``ChargerPause`` of each decided action, and the HCALCS still undecided."""
    from curtailment.services.action import boost_available
    from curtailment.services.event import knob

    decide_by = dt.timedelta(seconds=int(knob("CONFIRMATION_TIMEOUT_S")) + NOTIFY_RETRY_S)
    pauses, undecided = [], []
    actions = list(
        CurtailmentAction.objects.select_related("hcalcs")
        .filter(event=event, hcalcs_id__in=list(hcalcs_ids))
        .order_by("pk")
    )
    boost_states: dict[int, str] = {}
    for action_id, state in (
        ServiceRequest.objects.filter(action__in=actions, srv="7.9").order_by("-pk").values_list("action_id", "state")
    ):
        boost_states[action_id] = state  # ends with each action's first 7.9
    for action in actions:
        if action.status in UNDECIDED_STATES and now - action.started_at < decide_by:
            undecided.append(action.hcalcs_id)
            continue
        if action.status == ActionStatus.FAILED or (action.status == ActionStatus.ENDED and not action.confirmed_at):
            continue  # never switched off: nothing to tell
        pauses.append(
            ChargerPause(
                hcalcs_id=action.hcalcs_id,
                starts_at=action.confirmed_at or action.started_at,
                ends_at=action.ended_at or action.expected_end_at,
                boost_available=boost_available(action=action, boost_state=boost_states.get(action.pk)),
                customer_id=action.selection.get("customer_id"),
                **_limit_told(action),
            )
        )
    return pauses, undecided


def _limit_told(action: CurtailmentAction) -> dict:
    """A limited charger's level and the kW it may still draw; nothing for a switch-off."""
    if action.kind != ActionKind.LIMIT or action.level_percent is None:
        return {}
    return {
        "level_percent": action.level_percent,
        "limit_kw": round(action.hcalcs.rated_kw * action.level_percent / 100, 2),
    }
