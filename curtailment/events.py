"""What the curtailment engine pushes to Channels groups, as typed payloads (``event.updated``,
``action.updated``, ``service_request.updated``, ``protection.clock``, ``protection.budget``).

Payloads carry ids, EUI-64s, kW and UTC times, never names or contact details. Pushes go out on
commit, so a rolled-back change is never shown.
"""

from __future__ import annotations

from typing import TypedDict

from core.push import FEEDERS_ALL, event_group, feeder_group, push_on_commit
from core.times import iso_utc

EVENT_UPDATED = "event.updated"
PROTECTION_CLOCK = "protection.clock"
PROTECTION_BUDGET = "protection.budget"
ACTION_UPDATED = "action.updated"
SERVICE_REQUEST_UPDATED = "service_request.updated"


class EventPayload(TypedDict):
    event_id: int
    feeder_id: int
    status: str
    trigger: str
    started_at: str
    planned_end_at: str
    ended_at: str | None
    end_reason: str
    required_reduction_kw: float
    asp_calloff_kw: float
    live_actions: int
    live_kw: float


class ActionPayload(TypedDict):
    action_id: int
    event_id: int
    feeder_id: int
    hcalcs_id: int
    hcalcs_eui64: str
    status: str
    planned_minutes: int
    expected_kw: float
    use_local_delivery: bool
    started_at: str
    expected_end_at: str
    confirmed_at: str | None
    ended_at: str | None
    end_reason: str


class ServiceRequestPayload(TypedDict):
    service_request_id: int
    request_id: str
    srv: str
    command_variant: int
    state: str
    ack_code: str
    response_code: str
    device_outcome: str
    action_id: int | None
    event_id: int
    feeder_id: int


class ProtectionClockPayload(TypedDict):
    feeder_id: int
    event_id: int | None
    cleared: bool
    state: str
    load_percent: float | None
    reading_at: str | None
    minutes_to_rating: float | None
    minutes_to_failure: float | None
    relief_needed_kw: float
    relief_confirmed_kw: float
    relieved: bool
    stage: str
    relief_due_at: str | None
    exhausted: bool
    alarm: str


class BudgetLinePayload(TypedDict):
    srv: str
    period: str
    limit: int
    used: int
    percent: float


class ProtectionBudgetPayload(TypedDict):
    alarm_percent: float
    lines: list[BudgetLinePayload]


def event_payload(event, *, live_actions: int, live_kw: float) -> EventPayload:
    return EventPayload(
        event_id=event.pk,
        feeder_id=event.feeder_id,
        status=event.status,
        trigger=event.trigger,
        started_at=iso_utc(event.started_at),
        planned_end_at=iso_utc(event.planned_end_at),
        ended_at=iso_utc(event.ended_at),
        end_reason=event.end_reason,
        required_reduction_kw=event.required_reduction_kw,
        asp_calloff_kw=event.asp_calloff_kw,
        live_actions=live_actions,
        live_kw=round(live_kw, 3),
    )


def action_payload(action, *, feeder_id: int, hcalcs_eui64: str) -> ActionPayload:
    return ActionPayload(
        action_id=action.pk,
        event_id=action.event_id,
        feeder_id=feeder_id,
        hcalcs_id=action.hcalcs_id,
        hcalcs_eui64=hcalcs_eui64,
        status=action.status,
        planned_minutes=action.planned_minutes,
        expected_kw=action.expected_kw,
        use_local_delivery=action.use_local_delivery,
        started_at=iso_utc(action.started_at),
        expected_end_at=iso_utc(action.expected_end_at),
        confirmed_at=iso_utc(action.confirmed_at),
        ended_at=iso_utc(action.ended_at),
        end_reason=action.end_reason,
    )


def service_request_payload(service_request, *, event_id: int, feeder_id: int) -> ServiceRequestPayload:
    return ServiceRequestPayload(
        service_request_id=service_request.pk,
        request_id=service_request.request_id,
        srv=service_request.srv,
        command_variant=service_request.command_variant,
        state=service_request.state,
        ack_code=service_request.ack_code,
        response_code=service_request.response_code,
        device_outcome=service_request.device_outcome,
        action_id=service_request.action_id,
        event_id=event_id,
        feeder_id=feeder_id,
    )


def event_pushed(payload: EventPayload) -> None:
    groups = [FEEDERS_ALL, feeder_group(payload["feeder_id"]), event_group(payload["event_id"])]
    push_on_commit(groups, EVENT_UPDATED, payload)


def action_pushed(payload: ActionPayload) -> None:
    push_on_commit([feeder_group(payload["feeder_id"]), event_group(payload["event_id"])], ACTION_UPDATED, payload)


def service_request_pushed(payload: ServiceRequestPayload) -> None:
    groups = [feeder_group(payload["feeder_id"]), event_group(payload["event_id"])]
    push_on_commit(groups, SERVICE_REQUEST_UPDATED, payload)


def _rounded(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


def protection_clock_payload(clock) -> ProtectionClockPayload:
    return ProtectionClockPayload(
        feeder_id=clock.feeder_id,
        event_id=clock.event_id,
        cleared=False,
        state=clock.state,
        load_percent=_rounded(clock.load_percent),
        reading_at=iso_utc(clock.reading_at),
        minutes_to_rating=_rounded(clock.minutes_to_rating),
        minutes_to_failure=_rounded(clock.minutes_to_failure),
        relief_needed_kw=round(clock.relief_needed_kw, 1),
        relief_confirmed_kw=round(clock.relief_confirmed_kw, 1),
        relieved=clock.relieved,
        stage=clock.stage,
        relief_due_at=iso_utc(clock.relief_due_at),
        exhausted=clock.exhausted,
        alarm=clock.alarm,
    )


def protection_clock_cleared_payload(*, feeder_id: int) -> ProtectionClockPayload:
    return ProtectionClockPayload(
        feeder_id=feeder_id,
        event_id=None,
        cleared=True,
        state="",
        load_percent=None,
        reading_at=None,
        minutes_to_rating=None,
        minutes_to_failure=None,
        relief_needed_kw=0.0,
        relief_confirmed_kw=0.0,
        relieved=True,
        stage="",
        relief_due_at=None,
        exhausted=False,
        alarm="",
    )


def protection_clock_pushed(payload: ProtectionClockPayload) -> None:
    groups = [FEEDERS_ALL, feeder_group(payload["feeder_id"])]
    if payload["event_id"] is not None:
        groups.append(event_group(payload["event_id"]))
    push_on_commit(groups, PROTECTION_CLOCK, payload)


def protection_budget_payload(lines, *, alarm_percent: float) -> ProtectionBudgetPayload:
    return ProtectionBudgetPayload(
        alarm_percent=alarm_percent,
        lines=[
            BudgetLinePayload(
                srv=line.srv, period=line.period, limit=line.limit, used=line.used, percent=round(line.percent, 1)
            )
            for line in lines
        ],
    )


def protection_budget_pushed(payload: ProtectionBudgetPayload) -> None:
    push_on_commit([FEEDERS_ALL], PROTECTION_BUDGET, payload)
