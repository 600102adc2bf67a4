"""One charger's curtailment: boost setup (7.9), switch-off (7.6) or limit (7.16), confirmation,
lateness, failure, override and reset.

Each step is a compare-and-set and each DCC request is stored before it is sent and found again by
(action, SRV), so a step run twice never sends a second request.
"""

from __future__ import annotations

import datetime as dt
import math

from django.db import transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from core.audit import audit_record
from curtailment.choices import ActionEndReason, ActionKind, ActionStatus, EventStatus
from curtailment.dialect import action_lease
from curtailment.models import LIVE_ACTION_STATES, CurtailmentAction
from curtailment.services.common import action_end, action_move, clamp_end, logger, push_event, push_service_request
from curtailment.services.event import AUTO_RULE, event_close_if_done, event_top_up, knob
from dcc.choices import ServiceRequestState
from dcc.models import ServiceRequest
from dcc.services import service_request_create, service_request_dispatch
from dnoctl.queueing import task_send_on_commit

FAILED_REQUEST_STATES = (ServiceRequestState.REJECTED, ServiceRequestState.FAILED)
# A 7.9 in these states will never put the charger on its boost button.
BOOST_FAILED_STATES = (*FAILED_REQUEST_STATES, ServiceRequestState.TIMED_OUT)
SENT_REQUEST_STATES = (ServiceRequestState.ACKNOWLEDGED, ServiceRequestState.RESPONDED, ServiceRequestState.TIMED_OUT)


def _action(action_id: int, *, lock: bool = False) -> CurtailmentAction | None:
    query = (
        CurtailmentAction.objects.select_related("event__feeder", "hcalcs__meter")
        # The event's decision record lists every candidate of the feeder: costly to decode per dispatch.
        .defer("event__decision")
        .filter(pk=action_id)
        # No ORDER BY for one row: the model's default ordering cost a compile step and a sort.
        .order_by()
    )
    if lock:
        query = query.select_for_update(of=("self",))
    return next(iter(query), None)


def _requests_by_srv(action: CurtailmentAction) -> dict[str, ServiceRequest]:
    found: dict[str, ServiceRequest] = {}
    for request in ServiceRequest.objects.filter(action=action).order_by("pk"):
        found.setdefault(request.srv, request)
    return found


LIFT_LEVEL = 100  # a 7.16 at 100 % lifts a limit (the APC's counterpart of a 7.8)


def command_srv(action: CurtailmentAction) -> str:
    """The SRV that curtails the action's charger: 7.16 for a limit, 7.6 for a switch-off."""
    return "7.16" if action.kind == ActionKind.LIMIT else "7.6"


def _command_create(action: CurtailmentAction, *, now: dt.datetime, minutes: int, client=None) -> ServiceRequest:
    """The action's curtailing command for ``minutes`` from ``now``: a 7.6, or a 7.16 at its level."""
    if action.kind == ActionKind.LIMIT:
        return _request_create(
            action,
            "7.16",
            index=action.hcalcs.switch_index,
            level=action.level_percent,
            start=now,
            end=now + dt.timedelta(minutes=minutes),
            client=client,
        )
    return _request_create(action, "7.6", index=action.hcalcs.switch_index, duration_minutes=minutes, client=client)


def _request_create(action: CurtailmentAction, srv: str, *, client=None, **arguments) -> ServiceRequest:
    """Store (state ``built``) the action's request for ``srv`` to the ESME's HCALCS switch."""
    return service_request_create(
        srv=srv,
        target=action.hcalcs.meter.esme_eui64,
        action=action,
        hcalcs=action.hcalcs,
        client=client,
        **arguments,
    )


def _send(service_request: ServiceRequest, action: CurtailmentAction, *, client=None) -> ServiceRequest:
    """Send (or resend) a stored request; a ``DccTransientError`` retry reuses its RequestID."""
    if service_request.state in ServiceRequestState.values and service_request.state not in (
        ServiceRequestState.BUILT,
        ServiceRequestState.SENT,
    ):
        return service_request
    sent = service_request_dispatch(service_request_id=service_request.pk, client=client)
    push_service_request(sent, action)  # called in autocommit: pushed at once
    return sent


class ActionBusy(Exception):
    """Another task holds the action's lease (see ``action_lease``): try again shortly."""


class RequestInFlight(ActionBusy):
    """Another sender still claims a request of the action: wait, so a 7.6 never overtakes its 7.9."""


IN_FLIGHT_STATES = (ServiceRequestState.BUILT, ServiceRequestState.SENT)


def _sent_or_wait(service_request: ServiceRequest) -> ServiceRequest:
    if service_request.state in IN_FLIGHT_STATES:
        raise RequestInFlight(f"{service_request.srv} {service_request.request_id} is still being sent")
    return service_request


def action_dispatch(*, action_id: int, client=None) -> str:
    """Curtail one charger (7.9 first when the customer may override) under the action's lease: a
    concurrent run sends nothing."""
    with action_lease(action_id) as acquired:
        if not acquired:
            return "busy"
        return _dispatch(action_id=action_id, client=client)


def _dispatch(*, action_id: int, client=None) -> str:
    # Under the action's lease no other task sends for this action, so one read is enough:
    # a cancel or late check moving it meanwhile makes the compare-and-sets below fail.
    action = _action(action_id)
    if action is None:
        return "gone"
    # Nothing moves an action back to planned and every request is stored after its move
    # out of it, so a planned action has none: no query for the usual first dispatch.
    stored = {} if action.status == ActionStatus.PLANNED else _requests_by_srv(action)
    if action.status == ActionStatus.LATE and command_srv(action) not in stored:
        # Replaced while its dispatch waited (a backlog, a dead worker): it never switched
        # the charger off, so end it now rather than count minutes the customer never lost.
        with transaction.atomic():
            if action_end(action, reason=ActionEndReason.LATE, from_states=[ActionStatus.LATE]):
                push_event(action.event)
        return "late: ended unsent"
    if action.status not in (ActionStatus.PLANNED, ActionStatus.BOOST_SETUP, ActionStatus.SENT):
        return f"nothing to do ({action.status})"
    if action.event.status != EventStatus.ACTIVE:
        with transaction.atomic():
            if action_end(action, reason=ActionEndReason.CANCELLED, from_states=[ActionStatus.PLANNED]):
                push_event(action.event)
        return "event no longer active"
    rerun = action.status == ActionStatus.SENT  # an earlier dispatch moved it, then stopped
    wants_boost = bool(action.selection.get("override_allowed")) and not action.hcalcs.on_boost_button
    if action.status in (ActionStatus.PLANNED, ActionStatus.BOOST_SETUP) and wants_boost:
        waiting = _boost_first(action, stored, client=client)
        if waiting is not None:
            return waiting
    if action.status in (ActionStatus.PLANNED, ActionStatus.BOOST_SETUP) and command_srv(action) not in stored:
        return _first_send(action, client=client)
    if action.status in (ActionStatus.PLANNED, ActionStatus.BOOST_SETUP) and not action_move(
        action, from_states=[action.status], to_state=ActionStatus.SENT
    ):
        return "moved on"  # cancelled, released or marked late meanwhile: nothing to send
    request = stored.get(command_srv(action))
    if (
        request is None
        and rerun
        and not CurtailmentAction.objects.filter(pk=action.pk, status=ActionStatus.SENT).exists()
    ):
        # A rerun found the action sent but no 7.6 stored (its worker died in between), and
        # meanwhile it was marked late or released: its replacement covers the kW.
        return "moved on"
    if request is None:
        now = timezone.now()
        minutes = _minutes_left(action, now)
        if minutes < 1:
            return _end_unsent(action)
        # The device is asked for whole minutes (DUIS Duration), so the plan becomes exactly
        # that: the charger is back on Duration after the device acts, not at the slot's end.
        if not CurtailmentAction.objects.filter(pk=action.pk, status=ActionStatus.SENT).update(
            commanded_minutes=minutes, expected_end_at=now + dt.timedelta(minutes=minutes)
        ):
            return "moved on"
        action.commanded_minutes, action.expected_end_at = minutes, now + dt.timedelta(minutes=minutes)
        request = _command_create(action, now=now, minutes=minutes, client=client)
    sent = _sent_or_wait(_send(request, action, client=client))
    return _after_send(action, sent)


def _first_send(action: CurtailmentAction, *, client=None) -> str:
    """The usual dispatch: nothing sent yet. The move to sent and the minutes the command
    will ask for are one compare-and-set (one statement per charger fewer than the path of a
    rerun, which must find out first whether a command was stored)."""
    now = timezone.now()
    minutes = _minutes_left(action, now)
    if minutes < 1:
        if not action_move(action, from_states=[action.status], to_state=ActionStatus.SENT):
            return "moved on"
        return _end_unsent(action)
    # The device is asked for whole minutes (DUIS Duration), so the plan becomes exactly
    # that: the charger is back on Duration after the device acts, not at the slot's end.
    if not action_move(
        action,
        from_states=[action.status],
        to_state=ActionStatus.SENT,
        commanded_minutes=minutes,
        expected_end_at=now + dt.timedelta(minutes=minutes),
    ):
        return "moved on"  # cancelled, released or marked late meanwhile: nothing to send
    request = _command_create(action, now=now, minutes=minutes, client=client)
    return _after_send(action, _sent_or_wait(_send(request, action, client=client)))


def _minutes_left(action: CurtailmentAction, now: dt.datetime) -> int:
    """Whole minutes (DUIS Duration) from ``now`` to the action's planned end."""
    return math.floor((action.expected_end_at - now).total_seconds() / 60)


def _end_unsent(action: CurtailmentAction) -> str:
    """A sent-state action with no time left to ask for: ended late, its command never made."""
    with transaction.atomic():
        if action_end(action, reason=ActionEndReason.LATE, from_states=[ActionStatus.SENT]):
            push_event(action.event)
    return "too late to send"


def _boost_first(action: CurtailmentAction, stored: dict[str, ServiceRequest], *, client=None) -> str | None:
    """Put the charger on its boost button (7.9) before the 7.6; a failed 7.9 gives it up unless
    ``CURTAIL_WITHOUT_BOOST``."""
    # One conditional UPDATE (autocommit): its push goes out once it has committed.
    if action.status == ActionStatus.PLANNED and not action_move(
        action, from_states=[ActionStatus.PLANNED], to_state=ActionStatus.BOOST_SETUP
    ):
        return "moved on"  # released or cancelled meanwhile: no 7.9 for a charger left on
    boost = stored.get("7.9") or _request_create(action, "7.9", indexes=[action.hcalcs.switch_index], client=client)
    boost = _sent_or_wait(_send(boost, action, client=client))
    if boost.state == ServiceRequestState.RESPONDED:
        return None
    if boost.state not in BOOST_FAILED_STATES:
        return "waiting for the device to confirm the 7.9"
    allowed = bool(knob("CURTAIL_WITHOUT_BOOST"))
    audit_record(
        action="action.boost_setup_failed",
        rule=AUTO_RULE,
        target=action,
        reason=f"7.9 {boost.state}: {(boost.error or boost.ack_code or '')[:200]}; "
        + (
            "curtailed anyway (CURTAIL_WITHOUT_BOOST): the notice says the boost button will not work"
            if allowed
            else "not curtailed without the boost button its customer may use: another charger is picked"
        ),
        inputs={
            "request_id": boost.request_id,
            "state": boost.state,
            "hcalcs_eui64": action.hcalcs.eui64,
            "event_id": action.event_id,
            "curtail_without_boost": allowed,
        },
    )
    if allowed:
        return None
    action_failed(action_id=action.pk, reason=f"7.9 {boost.state}: the boost button could not be set up")
    return "not curtailed: the 7.9 failed"


def boost_available(*, action: CurtailmentAction, boost_state: str | None = None) -> bool:
    """Can the customer override this action with the boost button?"""
    if not action.selection.get("override_allowed"):
        return False
    if boost_state is None:
        boost_state = action.service_requests.filter(srv="7.9").order_by("pk").values_list("state", flat=True).first()
    if boost_state is not None:
        return boost_state == ServiceRequestState.RESPONDED
    return bool(action.selection.get("on_boost_button")) or action.hcalcs.on_boost_button


def _after_send(action: CurtailmentAction, sent: ServiceRequest) -> str:
    if sent.state in FAILED_REQUEST_STATES:
        action_failed(action_id=action.pk, reason=f"{sent.srv} {sent.state}: {sent.ack_code or ''} {sent.error[:200]}")
        return "failed"
    if sent.state == ServiceRequestState.ACKNOWLEDGED:
        # One conditional UPDATE (autocommit): its push goes out once it has committed.
        action_move(action, from_states=[ActionStatus.SENT], to_state=ActionStatus.ACKNOWLEDGED)
    return sent.state


CONFIRMABLE_STATES = [ActionStatus.SENT, ActionStatus.ACKNOWLEDGED, ActionStatus.LATE, ActionStatus.BOOST_SETUP]


def action_confirmed(*, action_id: int, at: dt.datetime | None = None) -> bool:
    """The device confirmed: the charger is curtailed from ``at`` to the device's own end."""
    action = _action(action_id)
    if action is None:
        return False
    at = at or timezone.now()
    fields = {"confirmed_at": at}
    if action.commanded_minutes and action.kind != ActionKind.LIMIT:
        fields["expected_end_at"] = at + dt.timedelta(minutes=action.commanded_minutes)
    with transaction.atomic():
        moved = action_move(action, from_states=CONFIRMABLE_STATES, to_state=ActionStatus.CONFIRMED, **fields)
        if moved and action.extends_id:
            _extended_action_end(action=action, at=at)
        return moved


def _extended_action_end(*, action: CurtailmentAction, at: dt.datetime) -> None:
    """A follow-on 7.6 took effect: end the action it extends, so the ledger counts the overlap once."""
    previous = _action(action.extends_id)
    if previous is not None and action_end(
        previous,
        reason=ActionEndReason.EXTENDED,
        ended_at=at,
        from_states=[s for s in LIVE_ACTION_STATES if s != ActionStatus.RELEASING],
    ):
        push_event(previous.event)


def action_late(*, action_id: int, now: dt.datetime | None = None) -> bool:
    """Unconfirmed within ``CONFIRMATION_TIMEOUT_S``: mark late and replace; it stays live, as the
    device may still act."""
    action = _action(action_id)
    now = now or timezone.now()
    if action is None or not action_mark_late(action=action, now=now):
        return False
    push_event(action.event)  # late actions no longer count towards the event's kW
    event_top_up(event_id=action.event_id, reason=f"replace late action {action.pk}", at=now)
    return True


# The commands that curtail a charger; an unconfirmed action has sent no other 7.6 or 7.16.
CURTAILING_SRVS = ("7.6", "7.16")


def command_sent_at() -> Subquery:
    """Annotation: when an action's curtailing command was first sent."""
    return Subquery(
        ServiceRequest.objects.filter(action=OuterRef("pk"), srv__in=CURTAILING_SRVS, sent_at__isnull=False)
        .order_by("sent_at")
        .values("sent_at")[:1]
    )


def _confirmation_clock_start(action: CurtailmentAction) -> dt.datetime:
    """Time confirmation from the command's sending, not planning, so a queued burst is not marked late."""
    if hasattr(action, "command_sent_at"):
        sent_at = action.command_sent_at
    else:
        sent_at = (
            CurtailmentAction.objects.filter(pk=action.pk)
            .annotate(sent=command_sent_at())
            .values_list("sent", flat=True)
            .first()
        )
    return max(action.started_at, sent_at) if sent_at else action.started_at


def action_mark_late(*, action: CurtailmentAction, now: dt.datetime) -> bool:
    """Move an unconfirmed action to late and audit it (compare-and-set)."""
    timeout = dt.timedelta(seconds=int(knob("CONFIRMATION_TIMEOUT_S")))
    if action.status == ActionStatus.PLANNED or now - _confirmation_clock_start(action) < timeout:
        return False  # a planned action has sent nothing: the re-check resumes a lost dispatch
    with transaction.atomic():
        moved = action_move(
            action,
            from_states=[ActionStatus.BOOST_SETUP, ActionStatus.SENT, ActionStatus.ACKNOWLEDGED],
            to_state=ActionStatus.LATE,
        )
        if moved:
            audit_record(
                action="action.late",
                rule=AUTO_RULE,
                target=action,
                reason=f"no device confirmation within {timeout.seconds} s",
                inputs={"hcalcs_eui64": action.hcalcs.eui64, "event_id": action.event_id},
            )
            # Whether the device acted is now unknown: ask it (7.7) rather than guess.
            _switch_read_queue(action.pk)
    return moved


def _dispatch_queue(action_id: int) -> None:
    from curtailment import tasks

    task_send_on_commit(tasks.action_dispatch, (action_id,))


def _switch_read_queue(action_id: int) -> None:
    from curtailment import tasks

    task_send_on_commit(tasks.action_switch_read, (action_id,))


def action_switch_read(*, action_id: int, client=None) -> str:
    """Ask the device (7.7) whether a late action's charger is off; the stored 7.7 is reused."""
    with action_lease(action_id) as acquired:
        if not acquired:
            raise ActionBusy(f"action {action_id} is being dispatched")
        action = _action(action_id)
        if action is None or action.status != ActionStatus.LATE:
            return "nothing to ask"
        stored = _requests_by_srv(action)
        if action.kind == ActionKind.LIMIT:
            return _late_limit_lift(action, stored.get("7.16"))
        deactivate = stored.get("7.6")
        if deactivate is None or deactivate.state not in SENT_REQUEST_STATES:
            return "no accepted 7.6"
        read = stored.get("7.7") or _request_create(action, "7.7", client=client)
        return _send(read, action, client=client).state


def _late_limit_lift(action: CurtailmentAction, command: ServiceRequest | None) -> str:
    """A late accepted limit cannot be read back (7.7 reads switches only): lift it and count it to the
    lift, never under-counting."""
    if command is None or command.state not in SENT_REQUEST_STATES or command.acknowledged_at is None:
        return "no accepted 7.16"
    with transaction.atomic():
        counted_from = command.acknowledged_at
        if not action_confirmed(action_id=action.pk, at=counted_from):
            return "nothing to do"
        action.refresh_from_db()
        lifted = action_move(
            action,
            from_states=[ActionStatus.CONFIRMED],
            to_state=ActionStatus.RELEASING,
            end_reason=ActionEndReason.LATE,
        )
        if lifted:
            audit_record(
                action="action.late_limit_lifted",
                rule=AUTO_RULE,
                target=action,
                reason="no device answer to the 7.16: lifted to know the charger's state, counted from the DCC's acceptance",
                inputs={
                    "hcalcs_eui64": action.hcalcs.eui64,
                    "level": action.level_percent,
                    "counted_from": counted_from.isoformat(),
                    "event_id": action.event_id,
                },
            )
            _release_queue(action.pk)
    return "lifting" if lifted else "nothing to do"


def _release_queue(action_id: int) -> None:
    from curtailment import tasks

    task_send_on_commit(tasks.action_release, (action_id,))


def action_switch_reported(*, action_id: int, switch_on: bool | None, reported_at: dt.datetime) -> str:
    """The 7.7 answer: off means the 7.6 acted (confirmed), on means it did not (ended, counting nothing)."""
    action = _action(action_id)
    if action is None or action.status not in CONFIRMABLE_STATES or switch_on is None:
        return "nothing to do"
    deactivate = _requests_by_srv(action).get("7.6")
    if not switch_on:
        acted_at = (deactivate.acknowledged_at if deactivate else None) or reported_at
        confirmed = action_confirmed(action_id=action.pk, at=min(acted_at, reported_at))
        if confirmed:
            audit_record(
                action="action.confirmed_by_read",
                rule=AUTO_RULE,
                target=action,
                reason="the device reports the charger off (7.7): its 7.6 acted",
                inputs={"hcalcs_eui64": action.hcalcs.eui64, "reported_at": reported_at.isoformat()},
            )
        return "confirmed" if confirmed else "nothing to do"
    with transaction.atomic():
        ended = action_end(action, reason=ActionEndReason.UNCONFIRMED, ended_at=reported_at)
        if ended:
            audit_record(
                action="action.unconfirmed",
                rule=AUTO_RULE,
                target=action,
                reason="the device reports the charger on (7.7): its 7.6 did not act, nothing counts",
                inputs={"hcalcs_eui64": action.hcalcs.eui64, "reported_at": reported_at.isoformat()},
            )
            push_event(action.event)
    if ended:
        event_close_if_done(event=action.event)
    return "unconfirmed" if ended else "nothing to do"


def action_failed(*, action_id: int, reason: str) -> bool:
    """The DCC or the device refused the command: end the action and pick a replacement."""
    action = _action(action_id)
    if action is None:
        return False
    with transaction.atomic():
        moved = action_move(
            action,
            from_states=[s for s in LIVE_ACTION_STATES if s != ActionStatus.RELEASING],
            to_state=ActionStatus.FAILED,
            ended_at=clamp_end(action, timezone.now()),
            end_reason=ActionEndReason.FAILED,
        )
        if moved:
            push_event(action.event)
            audit_record(
                action="action.failed",
                rule=AUTO_RULE,
                target=action,
                reason=reason,
                inputs={"hcalcs_eui64": action.hcalcs.eui64, "event_id": action.event_id},
            )
    if moved:
        event_top_up(event_id=action.event_id, reason=f"replace failed action {action.pk}")
        event_close_if_done(event=action.event)
    return moved


def action_release(*, action_id: int, client=None) -> str:
    """Send the reset of a releasing action; :class:`ActionBusy` while a dispatch runs, so the reset never races it."""
    with action_lease(action_id) as acquired:
        if not acquired:
            raise ActionBusy(f"action {action_id} is being dispatched")
        return _release(action_id=action_id, client=client)


def _release(*, action_id: int, client=None) -> str:
    with transaction.atomic():
        action = _action(action_id, lock=True)
        if action is None or action.status != ActionStatus.RELEASING:
            return "nothing to do"
        stored = _requests_by_srv(action)
        deactivate = stored.get(command_srv(action))
        if deactivate is None or deactivate.state in FAILED_REQUEST_STATES:
            # No 7.6 ever reached the DCC: nothing to reset.
            action_end(action, reason=action.end_reason, from_states=[ActionStatus.RELEASING])
            push_event(action.event)
            transaction.on_commit(lambda: event_close_if_done(event=action.event))
            return "ended without reset"
        if (
            action.kind == ActionKind.LIMIT
            and action.lift_request_id is None
            and action.expected_end_at <= timezone.now()
        ):
            # The device has already reverted at EndDateTime: nothing to lift.
            action_end(
                action, reason=action.end_reason, ended_at=action.expected_end_at, from_states=[ActionStatus.RELEASING]
            )
            push_event(action.event)
            transaction.on_commit(lambda: event_close_if_done(event=action.event))
            return "ended by its EndDateTime"
        reset = _reset_request(action, stored, client=client)
    sent = _sent_or_wait(_send(reset, action, client=client))
    if sent.state in FAILED_REQUEST_STATES:
        with transaction.atomic():
            action_end(
                action, reason=action.end_reason, ended_at=action.expected_end_at, from_states=[ActionStatus.RELEASING]
            )
            audit_record(
                action="action.reset_failed",
                rule=AUTO_RULE,
                target=action,
                reason=f"{sent.srv} {sent.state}; the device reverts at {action.expected_end_at.isoformat()}",
                inputs={"request_id": sent.request_id},
            )
        event_close_if_done(event=action.event)
    return sent.state


def _reset_request(action: CurtailmentAction, stored: dict[str, ServiceRequest], *, client=None) -> ServiceRequest:
    """The stored reset of a releasing action, or a new one: a 7.8, or for a limit a 7.16 at 100 %."""
    if action.kind != ActionKind.LIMIT:
        return stored.get("7.8") or _request_create(action, "7.8", index=action.hcalcs.switch_index, client=client)
    if action.lift_request_id is not None:
        return ServiceRequest.objects.get(pk=action.lift_request_id)
    lift = _request_create(
        action,
        "7.16",
        index=action.hcalcs.switch_index,
        level=LIFT_LEVEL,
        start=timezone.now(),
        end=action.expected_end_at,
        client=client,
    )
    CurtailmentAction.objects.filter(pk=action.pk).update(lift_request=lift)
    action.lift_request_id = lift.pk
    return lift


def action_limit_change(*, action_id: int, client=None) -> str:
    """Send the 7.16 moving a confirmed limit to the action's level; an unsent change is resent, not remade."""
    with action_lease(action_id) as acquired:
        if not acquired:
            raise ActionBusy(f"action {action_id} is being dispatched")
        action = _action(action_id)
        if action is None or action.kind != ActionKind.LIMIT or action.status != ActionStatus.CONFIRMED:
            return "nothing to do"
        now = timezone.now()
        if action.expected_end_at <= now:
            return "the limit has ended"
        command = _requests_by_srv(action).get("7.16")
        pending = (
            ServiceRequest.objects.filter(action=action, srv="7.16", state__in=IN_FLIGHT_STATES)
            .exclude(pk=command.pk if command else None)
            .order_by("-pk")
            .first()
        )
        change = pending or _request_create(
            action,
            "7.16",
            index=action.hcalcs.switch_index,
            level=action.level_percent,
            start=now,
            end=action.expected_end_at,
            client=client,
        )
        return _send(change, action, client=client).state


def action_released(*, action_id: int, succeeded: bool, at: dt.datetime | None = None) -> bool:
    """The device answered the 7.8: the charger is back on from ``at`` (when it answered)."""
    action = _action(action_id)
    if action is None or action.status != ActionStatus.RELEASING:
        return False
    at = at or timezone.now()
    with transaction.atomic():
        ended_at = at if succeeded else action.expected_end_at
        moved = action_end(action, reason=action.end_reason, ended_at=ended_at, from_states=[ActionStatus.RELEASING])
        push_event(action.event)
    if moved:
        event_close_if_done(event=action.event, at=at)
    return moved


PRESS_TIME_RESOLUTION = dt.timedelta(seconds=1)


def hcalcs_boost_pressed(
    *,
    esme_eui64: str,
    switch_indexes: list[int] | None,
    pressed_at: dt.datetime,
    source: str,
    now: dt.datetime | None = None,
) -> list[int]:
    """The customer pressed boost: live actions on those switches end as ``override``. Idempotent."""
    actions = CurtailmentAction.objects.select_related("event__feeder", "hcalcs__meter").filter(
        hcalcs__meter__esme_eui64=esme_eui64,
        status__in=[s for s in LIVE_ACTION_STATES if s != ActionStatus.RELEASING],
        # A meter may stamp its alert to the whole second only.
        started_at__lt=pressed_at + PRESS_TIME_RESOLUTION,
    )
    if switch_indexes is not None:
        actions = actions.filter(hcalcs__switch_index__in=switch_indexes)
    else:
        # The meter's alert does not list the switches: a press restores the loads on its
        # boost button, and only those.
        actions = actions.filter(hcalcs__on_boost_button=True)
    ended = []
    for action in actions:
        with transaction.atomic():
            if action_end(action, reason=ActionEndReason.OVERRIDE, ended_at=max(pressed_at, action.started_at)):
                audit_record(
                    action="action.override",
                    rule="boost-button",
                    target=action,
                    reason=f"customer pressed boost ({source})",
                    inputs={"hcalcs_eui64": action.hcalcs.eui64, "pressed_at": pressed_at.isoformat()},
                )
                push_event(action.event)
                ended.append(action)
    now = now or timezone.now()
    for action in ended:
        event_top_up(event_id=action.event_id, reason=f"replace overridden action {action.pk}", at=now)
        event_close_if_done(event=action.event, at=now)
    return [action.pk for action in ended]


def _answered_at(service_request: ServiceRequest, result: dict, action: CurtailmentAction) -> dt.datetime:
    """The DCC's timestamp of the answer (a delayed delivery must not shift the ledger), clamped."""
    arrived = service_request.responded_at or timezone.now()
    try:
        stamped = dt.datetime.fromisoformat(str(result.get("answered_at")).replace("Z", "+00:00"))
    except ValueError:
        return arrived
    if stamped.tzinfo is None:
        return arrived
    return min(max(stamped, action.started_at), arrived)


def service_request_outcome(*, service_request: ServiceRequest, result: dict) -> None:
    """A device answered one of an action's requests (called from the DCC hook)."""
    action = _action(service_request.action_id) if service_request.action_id else None
    if action is None:
        return
    with transaction.atomic():
        push_service_request(service_request, action)
    succeeded = service_request.state == ServiceRequestState.RESPONDED
    answered_at = _answered_at(service_request, result, action)
    srv = service_request.srv
    if srv == "7.16" and service_request.pk == action.lift_request_id:
        action_released(action_id=action.pk, succeeded=succeeded, at=answered_at)
    elif srv == "7.16" and service_request.pk != _requests_by_srv(action)["7.16"].pk:
        _limit_change_answered(action, service_request, succeeded=succeeded, result=result)
    elif srv == command_srv(action):
        if succeeded:
            action_confirmed(action_id=action.pk, at=answered_at)
        else:
            action_failed(
                action_id=action.pk, reason=f"{srv} not confirmed: {result.get('summary') or service_request.state}"
            )
    elif srv == "7.8":
        action_released(action_id=action.pk, succeeded=succeeded, at=answered_at)
    elif service_request.srv == "7.7":
        states = (result.get("detail") or {}).get("output_states") or {}
        switch_on = states.get(str(action.hcalcs.switch_index)) if succeeded else None
        action_switch_reported(action_id=action.pk, switch_on=switch_on, reported_at=service_request.responded_at)
    elif service_request.srv == "7.9":
        # The dispatch waits for this answer before the 7.6 (or gives the charger up):
        # queue it again. The consent app records the charger on the boost button.
        _dispatch_queue(action.pk)
    elif service_request.srv == "7.11" and succeeded:
        presses = (result.get("detail") or {}).get("presses") or []
        for press in presses:
            pressed_at = dt.datetime.fromisoformat(press)
            hcalcs_boost_pressed(
                esme_eui64=service_request.target_eui64,
                switch_indexes=None,
                pressed_at=pressed_at,
                source=f"7.11 {service_request.request_id}",
            )
    else:
        logger.info("%s %s: %s", service_request.srv, service_request.request_id, service_request.state)


def _limit_change_answered(
    action: CurtailmentAction, service_request: ServiceRequest, *, succeeded: bool, result: dict
) -> None:
    """A refused level change is audited: the earlier limit stays in force."""
    audit_record(
        action="action.limit_change_applied" if succeeded else "action.limit_change_failed",
        rule=AUTO_RULE,
        target=action,
        reason=f"7.16 {service_request.request_id} {service_request.state}"
        + ("" if succeeded else f": {result.get('summary') or ''}; the earlier limit holds to its end"),
        inputs={"request_id": service_request.request_id, "level": action.level_percent, "event_id": action.event_id},
    )
