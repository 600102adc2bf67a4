"""A charger's consent ended mid-event (withdrawn, or a change of tenancy): release it now, since
invariant 1 must not lapse for the rest of the slot. The consent hook runs in the ending
transaction; a minute sweep catches any it missed."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from consent.choices import ConsentStatus
from consent.models import Consent
from core.audit import audit_record
from curtailment.choices import ActionEndReason, ActionStatus, EventStatus
from curtailment.models import LIVE_ACTION_STATES, CurtailmentAction
from curtailment.services.common import action_end, action_move, push_event
from curtailment.services.event import event_close_if_done, event_top_up

CONSENT_RULE = "consent-ended"
# Live actions that still hold (or are about to hold) a charger off.
HOLDING_STATES = [s for s in LIVE_ACTION_STATES if s != ActionStatus.RELEASING]


def hcalcs_consent_ended(ended) -> list[int]:
    """The consent hook: release every live action of the premise's chargers and pick replacements."""
    actions = CurtailmentAction.objects.select_related("event__feeder", "hcalcs").filter(
        hcalcs_id__in=list(ended.hcalcs_ids), status__in=HOLDING_STATES, event__status=EventStatus.ACTIVE
    )
    return actions_release_for_consent(
        actions=list(actions),
        why=ended.why,
        inputs={"consent_id": ended.consent_id, "customer_id": ended.customer_id, "consent_ended_by": ended.actor},
    )


def actions_release_for_consent(*, actions: list[CurtailmentAction], why: str, inputs: dict) -> list[int]:
    """End or reset each action (compare-and-set, audited), then top up each event; commands queued on commit."""
    from curtailment import tasks

    now = timezone.now()
    released: list[CurtailmentAction] = []
    with transaction.atomic():
        for action in actions:
            if action.status == ActionStatus.PLANNED:
                moved = action_end(
                    action, reason=ActionEndReason.RELEASED, ended_at=now, from_states=[ActionStatus.PLANNED]
                )
            else:
                moved = action_move(
                    action,
                    from_states=[s for s in HOLDING_STATES if s != ActionStatus.PLANNED],
                    to_state=ActionStatus.RELEASING,
                    end_reason=ActionEndReason.RELEASED,
                )
            if not moved:
                continue
            released.append(action)
            audit_record(
                action="action.release_consent_ended",
                rule=CONSENT_RULE,
                target=action,
                reason=f"{why}: the charger may not stay curtailed; released at once (7.8) and replaced",
                inputs={
                    **inputs,
                    "hcalcs_eui64": action.hcalcs.eui64,
                    "event_id": action.event_id,
                    "was": "planned" if action.status == ActionStatus.ENDED else "commanded",
                    "at": now.isoformat(),
                },
            )
            push_event(action.event)
        to_reset = [action.pk for action in released if action.status == ActionStatus.RELEASING]
        if to_reset:
            transaction.on_commit(lambda: tasks.actions_release_queue(to_reset))
        for event_id in sorted({action.event_id for action in released}):
            ids = [action.pk for action in released if action.event_id == event_id]
            event_top_up(event_id=event_id, reason=f"replace actions {ids}: {why}", at=now)
        for action in released:
            if action.status == ActionStatus.ENDED:
                event_close_if_done(event=action.event, at=now)
    return [action.pk for action in released]


def actions_without_consent(*, at: dt.datetime) -> list[CurtailmentAction]:
    """Live actions whose charger's tenancy no longer has the consent it was picked under."""

    actions = list(
        CurtailmentAction.objects.select_related("event__feeder", "hcalcs__meter").filter(
            status__in=HOLDING_STATES, event__status=EventStatus.ACTIVE
        )
    )
    premise_ids = {action.hcalcs.meter.premise_id for action in actions}
    granted_to = dict(
        Consent.objects.filter(
            tenancy__premise_id__in=premise_ids,
            tenancy__end__isnull=True,
            tenancy__start__lte=at,
            status=ConsentStatus.GRANTED,
        ).values_list("tenancy__premise_id", "tenancy__customer_id")
    )

    def still_consented(action: CurtailmentAction) -> bool:
        customer_id = granted_to.get(action.hcalcs.meter.premise_id)
        picked_under = action.selection.get("customer_id")
        return customer_id is not None and picked_under in (None, customer_id)

    return [action for action in actions if not still_consented(action)]


def actions_without_consent_release(*, now: dt.datetime | None = None) -> list[int]:
    """The minute sweep (beat): release any action :func:`actions_without_consent` finds."""
    now = now or timezone.now()
    stray = actions_without_consent(at=now)
    if not stray:
        return []
    return actions_release_for_consent(
        actions=stray, why="no granted consent of the customer it was picked under", inputs={"found_by": "sweep"}
    )
