"""One charger's curtailment: boost-button setup (7.9), switch-off (7.6) or limit (7.16),
confirmation, lateness, failure, customer override and reset (7.8, or a 7.16 at 100 %).

A limit action (an APC) takes the same steps as a switch-off, only its command differs
(:func:`command_srv`): its 7.16 holds the level until EndDateTime, as a 7.6 its Duration;
a later 7.16 replaces it (a level change, :func:`action_limit_change`, or the lift).

Every step is a compare-and-set on the action's status, and every DCC request is stored
(``dcc.services``) before it is sent and looked up by (action, SRV) before
a new one is made, so a step run twice — a Celery retry, a task queued again after a
worker died — never sends a second request: a resend reuses the stored RequestID.
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
        # The event's decision record lists every candidate of the feeder: decoding it for
        # each of an event's hundred dispatches was a tenth of a worker's CPU.
        .defer("event__decision")
        .filter(pk=action_id)
        # No ORDER BY for one row: the model's default ordering cost a compile step and a sort.
        .order_by()
    )
    if lock:
        query = query.select_for_update(of=("self",))
    return next(iter(query), None)


def _requests_by_srv(action: CurtailmentAction) -> dict[str, ServiceRequest]:
    """The action's stored requests, the first of each SRV (one query for every step)."""
    found: dict[str, ServiceRequest] = {}
    for request in ServiceRequest.objects.filter(action=action).order_by("pk"):
        found.setdefault(request.srv, request)
    return found


LIFT_LEVEL = 100  # a 7.16 at 100 % lifts a limit (the APC's counterpart of a 7.8)


def command_srv(action: CurtailmentAction) -> str:
    """The SRV that curtails the action's charger: 7.16 for a limit, 7.6 for a switch-off."""
    return "7.16" if action.kind == ActionKind.LIMIT else "7.6"


def _command_create(action: CurtailmentAction, *, now: dt.datetime, minutes: int, client=None) -> ServiceRequest:
    """The action's curtailing command for ``minutes`` from ``now``: a 7.6 Duration, or a
    7.16 at the action's level until EndDateTime (the device reverts by itself either way)."""
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
    """Store (state ``built``) the action's request for ``srv``; callers look for a stored
    one first (:func:`_requests_by_srv`). DUIS addresses the command to the ESME (the
    meter) with the HCALCS switch index."""
    return service_request_create(
        srv=srv,
        target=action.hcalcs.meter.esme_eui64,
        action=action,
        hcalcs=action.hcalcs,
        client=client,
        **arguments,
    )


def _send(service_request: ServiceRequest, action: CurtailmentAction, *, client=None) -> ServiceRequest:
    """Send (or resend after a transport failure) a stored request. Raises the DCC client's
    ``DccTransientError`` for the task to retry; the retry reuses the same RequestID."""
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
    """A request of the action is still claimed by another sender (the DCC integration's
    in-flight lease, e.g. a worker that died mid-send): the next step must wait for it, so
    a 7.6 never overtakes its 7.9 and a 7.8 never overtakes its 7.6."""


IN_FLIGHT_STATES = (ServiceRequestState.BUILT, ServiceRequestState.SENT)


def _sent_or_wait(service_request: ServiceRequest) -> ServiceRequest:
    if service_request.state in IN_FLIGHT_STATES:
        raise RequestInFlight(f"{service_request.srv} {service_request.request_id} is still being sent")
    return service_request


def action_dispatch(*, action_id: int, client=None) -> str:
    """Switch one charger off: 7.9 first when the customer may override and the load is not
    yet on the boost button, and the 7.6 only once the device has put it there (see
    :func:`_boost_first`), for the minutes left of the action (never past its planned end,
    so the usage limits hold even when dispatch was delayed).

    Runs under the action's lease: a second dispatch of the same action while one is
    running returns "busy" at once and sends nothing.
    """
    with action_lease(action_id) as acquired:
        if not acquired:
            return "busy"
        return _dispatch(action_id=action_id, client=client)


def _dispatch(*, action_id: int, client=None) -> str:
    # Under the action's lease no other task sends for this action, so one read is enough:
    # every status change below is a compare-and-set, and a cancel or late check that moves
    # the action meanwhile makes the move fail (or, for a 7.6 already stored, waits for the
    # lease and then resets or counts it).
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
        minutes = math.floor((action.expected_end_at - now).total_seconds() / 60)
        if minutes < 1:
            with transaction.atomic():
                if action_end(action, reason=ActionEndReason.LATE, from_states=[ActionStatus.SENT]):
                    push_event(action.event)
            return "too late to send"
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
    minutes = math.floor((action.expected_end_at - now).total_seconds() / 60)
    if minutes < 1:
        if not action_move(action, from_states=[action.status], to_state=ActionStatus.SENT):
            return "moved on"
        with transaction.atomic():
            if action_end(action, reason=ActionEndReason.LATE, from_states=[ActionStatus.SENT]):
                push_event(action.event)
        return "too late to send"
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


def _boost_first(action: CurtailmentAction, stored: dict[str, ServiceRequest], *, client=None) -> str | None:
    """The customer may override with the boost button, so the charger goes on it (7.9)
    before it is switched off: None once the device has confirmed the 7.9 (go on with the
    7.6), otherwise what happened instead. The device's answer to the 7.9 queues this
    dispatch again (:func:`service_request_outcome`); the minute re-check does too.

    A 7.9 that fails leaves a customer who was promised an override without one, so the
    charger is not curtailed and another is picked, unless ``CURTAIL_WITHOUT_BOOST`` allows
    it (then its notice says the boost button will not work). Audited either way.
    """
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
    """Can the customer override this action with the boost button? Only when their consent
    allows it and the charger is on the button (already, or by the action's own 7.9, whose
    state the caller may pass as ``boost_state`` to save the query)."""
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
    """The device confirmed the 7.6: the charger is off from ``at``, and the device switches
    it back on by itself ``commanded_minutes`` later (its own end, which the ledger uses).
    A 7.16 (limit) ends at its EndDateTime whenever it was confirmed: the end stays."""
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
    """A follow-on 7.6 took effect: the device now runs the new Duration, so the action it
    extends ends here (the ledger counts the charger once, not twice over the overlap)."""
    previous = _action(action.extends_id)
    if previous is not None and action_end(
        previous,
        reason=ActionEndReason.EXTENDED,
        ended_at=at,
        from_states=[s for s in LIVE_ACTION_STATES if s != ActionStatus.RELEASING],
    ):
        push_event(previous.event)


def action_late(*, action_id: int, now: dt.datetime | None = None) -> bool:
    """No device confirmation within ``CONFIRMATION_TIMEOUT_S``: mark the action late and
    pick a replacement. The late action stays live (the device may still act on it, and
    its minutes count); a confirmation arriving later still moves it to confirmed."""
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
    """When an action's curtailing command was first sent, to annotate a queryset of
    actions with (one query for a whole event's unconfirmed actions, not one each)."""
    return Subquery(
        ServiceRequest.objects.filter(action=OuterRef("pk"), srv__in=CURTAILING_SRVS, sent_at__isnull=False)
        .order_by("sent_at")
        .values("sent_at")[:1]
    )


def _confirmation_clock_start(action: CurtailmentAction) -> dt.datetime:
    """When the device could first have answered: the command's sending, not the action's
    planning. In an area-wide burst thousands of dispatches wait in the queue; timing them
    from planning marked them late before their command went out, and each then cost a
    read and a replacement (``bench/bench_burst.py``). Read from the ``command_sent_at``
    annotation when the caller made it."""
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
    """Move an unconfirmed action to late and audit it (compare-and-set); the caller pushes
    the event and picks replacements, once for however many actions it marked."""
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
    """Ask the device (7.7 Read Auxiliary Load Switch Data) whether a late action's charger
    is off, when the DCC accepted its 7.6 but no confirmation came. Idempotent: the stored
    7.7 is reused, and only a live, unconfirmed action with an accepted 7.6 is asked about."""
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
    """A late limit whose 7.16 the DCC accepted: whether the APC holds it is unknown, and no
    read answers that here (7.7 reports switches, not an APC's level; 7.15's GBCS has no
    reference vector to check ours against). So make the state known instead: lift it (a
    7.16 at 100 %; the device drops the late command if it comes after, its counter being
    lower) and count the limit from the DCC's acceptance to the lift, so the customer's
    allowance is never under-counted. Not accepted: it never reached the device, and it
    ends unconfirmed at its planned end, counting nothing, as a late 7.6 does."""
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
    """The device answered the 7.7 about a late action: off means the 7.6 acted (confirmed,
    counted from when the DCC accepted it); on means it did not (the action ends, counting
    nothing). Audited either way; ``None`` (no answer for the switch) changes nothing."""
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
    """The DCC or the device refused the 7.6: end the action (no minutes beyond now) and
    pick a replacement."""
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
    """Send the 7.8 reset of a releasing action (cancel or early release). The action ends
    when the device confirms; if the DCC refuses the reset, the device still reverts at the
    end of the 7.6 duration, so the action ends then, counting every minute.

    Raises :class:`ActionBusy` while a dispatch of the same action is still running (the
    task retries shortly): the reset must follow the switch-off, not race it.
    """
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
    """The stored reset of a releasing action, or a new one: a 7.8 for a switch-off; for a
    limit a 7.16 at 100 % up to the limit's own end (a later 7.16 replaces the limit),
    kept as the action's ``lift_request`` so its answer ends the action."""
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
    """Send the 7.16 that moves a confirmed limit to the level now on the action (the
    closed loop lowered or raised it, ``event_top_up``), up to the limit's own end; the
    device replaces the earlier limit. A change still unsent is resent, not made twice."""
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
    """The customer pressed boost (device alert, or a press found by 7.11): the live actions
    of those switches (``None``: every switch on the meter's boost button) end with reason
    ``override`` at the press time, their actual minutes count, and each event picks a
    replacement if it still needs the kW. Idempotent: a second report of the same press
    finds no live action."""
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
    """When the device answered: the DCC's timestamp on its response (when it left the
    meter), not when it reached us (a delivery held up by an outage would shift the ledger),
    kept within the action's dispatch and the response's arrival."""
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
    """The device answered a level change (closed loop). A refused change leaves the
    earlier limit in force until its own end: audited, so the operator sees the level
    recorded on the action was not applied."""
    audit_record(
        action="action.limit_change_applied" if succeeded else "action.limit_change_failed",
        rule=AUTO_RULE,
        target=action,
        reason=f"7.16 {service_request.request_id} {service_request.state}"
        + ("" if succeeded else f": {result.get('summary') or ''}; the earlier limit holds to its end"),
        inputs={"request_id": service_request.request_id, "level": action.level_percent, "event_id": action.event_id},
    )
