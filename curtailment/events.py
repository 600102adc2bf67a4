"""What the curtailment engine pushes to Channels groups (``dnoctl.push``), as typed payloads.

Message types and their consumer handlers:

* ``event.updated`` -> ``event_updated``: an event opened, changed state or coverage, or
  ended; to ``feeders.all``, ``feeders.feeder-<id>`` and ``curtailment.event-<id>``.
* ``action.updated`` -> ``action_updated``: one charger's action changed state; to the
  feeder's and the event's groups.
* ``service_request.updated`` -> ``service_request_updated``: a DCC request of an action
  was sent, acknowledged, rejected or answered; to the feeder's and the event's groups.

Payloads carry ids, device EUI-64s, kW and times (ISO 8601 UTC), never names or contact
details. Every push is queued on commit, so a rolled-back change is never shown.

Sending: a dispatch of 100 chargers makes about a thousand pushes. ``async_to_sync`` per
push starts a thread and an event loop each time, which cost a third of the engine's time
per charger. With the Redis layer the pushes go instead, in order, through one background
thread per process that owns one event loop and its own layer instance; a failed send is
logged, never raised (the database is the truth, the page reloads from it). The in-memory
layer (embedded mode) is bound to the web server's loop, so there they go synchronously.
"""

from __future__ import annotations

import asyncio
import logging
import os
import queue
import threading
from datetime import UTC, datetime
from typing import Any, TypedDict

from channels.layers import DEFAULT_CHANNEL_LAYER, channel_layers, get_channel_layer
from django.db import transaction

from dnoctl.push import FEEDERS_ALL, event_group, feeder_group, groups_with_members, push_now

logger = logging.getLogger(__name__)

EVENT_UPDATED = "event.updated"
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
    action_id: int | None
    event_id: int
    feeder_id: int


def iso_utc(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat() if moment is not None else None


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
        action_id=service_request.action_id,
        event_id=event_id,
        feeder_id=feeder_id,
    )


class _Pusher:
    """One background sender per process (re-created after a fork).

    It takes whatever has queued up since its last round (a dispatch burst queues hundreds
    of messages), asks Redis once which of their groups have a subscribed socket, and sends
    only to those: most events are watched by one or two pages, if any, and a group send
    to an empty group costs the same Redis round trips as a real one. Order is kept per
    group (one sender, one loop).
    """

    MAX_ROUND = 500  # messages per round: bounds the latency of the first one in a burst

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.queue: queue.SimpleQueue = queue.SimpleQueue()
        self.thread = threading.Thread(target=self._run, name="curtailment-pusher", daemon=True)
        self.thread.start()

    def _take_round(self) -> list[tuple[list[str], str, dict[str, Any]]]:
        messages = [self.queue.get()]
        while len(messages) < self.MAX_ROUND:
            try:
                messages.append(self.queue.get_nowait())
            except queue.Empty:
                break
        return messages

    def _run(self) -> None:
        # A plain daemon thread with its own loop: nothing here may keep the process alive
        # at exit (a worker being stopped), so no executor threads.
        loop = asyncio.new_event_loop()
        layer = channel_layers.make_backend(DEFAULT_CHANNEL_LAYER)
        while True:
            messages = self._take_round()
            try:
                listened = loop.run_until_complete(
                    groups_with_members(layer, {group for groups, _, _ in messages for group in groups})
                )
            except Exception:  # Redis lost: try every group, each failure is logged below
                logger.exception("could not ask Redis which groups are listened to")
                listened = None
            for groups, message_type, payload in messages:
                message = {"type": message_type, "payload": payload}
                for group in groups:
                    if listened is not None and group not in listened:
                        continue
                    try:
                        loop.run_until_complete(layer.group_send(group, message))
                    except Exception:  # a lost Redis must not stop the engine
                        logger.exception("push of %s to %s failed", message_type, group)

    def send(self, groups: list[str], message_type: str, payload: dict[str, Any]) -> None:
        self.queue.put((groups, message_type, payload))


_pusher: _Pusher | None = None
_pusher_lock = threading.Lock()


def _send(groups: list[str], message_type: str, payload: dict[str, Any]) -> None:
    global _pusher
    layer = get_channel_layer()
    if layer is None:
        return
    if type(layer).__name__ == "InMemoryChannelLayer":
        push_now(groups, message_type, payload)
        return
    with _pusher_lock:
        if _pusher is None or _pusher.pid != os.getpid():
            _pusher = _Pusher()
    _pusher.send(groups, message_type, payload)


def push_on_commit(groups: list[str], message_type: str, payload) -> None:
    """Queue the push for when the current transaction commits (now, if there is none)."""
    payload = dict(payload)
    transaction.on_commit(lambda: _send(groups, message_type, payload))


def event_pushed(payload: EventPayload) -> None:
    groups = [FEEDERS_ALL, feeder_group(payload["feeder_id"]), event_group(payload["event_id"])]
    push_on_commit(groups, EVENT_UPDATED, payload)


def action_pushed(payload: ActionPayload) -> None:
    push_on_commit([feeder_group(payload["feeder_id"]), event_group(payload["event_id"])], ACTION_UPDATED, payload)


def service_request_pushed(payload: ServiceRequestPayload) -> None:
    groups = [feeder_group(payload["feeder_id"]), event_group(payload["event_id"])]
    push_on_commit(groups, SERVICE_REQUEST_UPDATED, payload)
