"""WebSocket consumers of the live dashboard: they authenticate in ``connect()``, only read, and
never write to the database.

Control messages (``control.*``) name operators and their reasons, so only sockets whose user
may control curtailment get them."""

from __future__ import annotations

import datetime as dt
import functools
import logging
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from redis.exceptions import TimeoutError as RedisTimeoutError

from core.push import FEEDERS_ALL, feeder_group
from core.roles import CONTROL_CURTAILMENT
from core.times import london_label, london_wallclock

logger = logging.getLogger(__name__)

CLOSE_ANONYMOUS = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404


@functools.lru_cache(maxsize=4096)
def _wallclock_pair(value: str) -> tuple[str, str] | None:
    # Every socket in this process gets the same timestamp strings for one push (200
    # sockets on the overview): convert each once.
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    return london_wallclock(moment), london_label(moment)


def with_wallclock(payload: dict[str, Any]) -> dict[str, Any]:
    """Europe/London copies of every ``*_at`` timestamp: the browser never converts time zones itself."""
    enriched = dict(payload)
    for key, value in payload.items():
        if not key.endswith("_at") or not isinstance(value, str):
            continue
        pair = _wallclock_pair(value)
        if pair is not None:
            enriched[f"{key}_london"], enriched[f"{key}_label"] = pair
    return enriched


class LiveConsumer(AsyncJsonWebsocketConsumer):
    """Base: authenticate, join the groups of :meth:`live_groups` (``None`` closes with 4404), forward by type."""

    can_control: bool = False
    joined: list[str]

    # Channels assigns ``self.channel_receive`` (the channel layer's receive for this
    # socket) before dispatching. redis-py 8 gives every connection a 5 s socket timeout,
    # the same as channels_redis's blocking-pop timeout, so an idle socket's wait can time
    # out on the client side and would close the socket every few seconds. Nothing is lost
    # by waiting again (the message stays in Redis), so the wait is retried.
    @property
    def channel_receive(self):
        return self._channel_receive

    @channel_receive.setter
    def channel_receive(self, receive) -> None:
        async def receive_tolerating_idle_timeouts():
            while True:
                try:
                    return await receive()
                except RedisTimeoutError:
                    logger.debug("channel layer receive timed out while idle; waiting again")

        self._channel_receive = receive_tolerating_idle_timeouts

    async def connect(self) -> None:
        self.joined = []
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_ANONYMOUS)
            return
        if not user.is_active:
            await self.close(code=CLOSE_FORBIDDEN)
            return
        self.can_control = await database_sync_to_async(user.has_perm)(CONTROL_CURTAILMENT)
        groups = await self.live_groups()
        if groups is None:
            await self.close(code=CLOSE_NOT_FOUND)
            return
        for group in groups:
            await self.channel_layer.group_add(group, self.channel_name)
        self.joined = groups
        await self.accept()

    async def disconnect(self, code: int) -> None:
        for group in self.joined:
            await self.channel_layer.group_discard(group, self.channel_name)

    async def live_groups(self) -> list[str] | None:
        raise NotImplementedError

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        # Pages only listen; a ping keeps proxies from closing an idle socket.
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"type": "pong"})

    async def dispatch(self, message: dict[str, Any]) -> None:
        # A message type this page does not show (a new one another app started pushing)
        # is dropped, not allowed to kill the socket with "No handler for message type".
        handler_name = message["type"].replace(".", "_")
        if not message["type"].startswith("websocket.") and not hasattr(self, handler_name):
            logger.debug("%s ignores %s", type(self).__name__, message["type"])
            return
        await super().dispatch(message)

    async def forward(self, message: dict[str, Any]) -> None:
        await self.send_json({"type": message["type"], "payload": with_wallclock(message.get("payload") or {})})

    async def forward_control(self, message: dict[str, Any]) -> None:
        if self.can_control:
            await self.forward(message)

    async def feeder_reading(self, message: dict[str, Any]) -> None:
        await self.forward(message)

    async def feeder_readings(self, message: dict[str, Any]) -> None:
        payload = message.get("payload") or {}
        readings = [with_wallclock(reading) for reading in payload.get("readings") or [] if isinstance(reading, dict)]
        await self.send_json({"type": message["type"], "payload": {**payload, "readings": readings}})

    async def feeder_status(self, message: dict[str, Any]) -> None:
        await self.forward(message)

    async def feeder_updated(self, message: dict[str, Any]) -> None:
        await self.forward(message)

    async def feeder_alert(self, message: dict[str, Any]) -> None:
        await self.forward(message)

    async def event_updated(self, message: dict[str, Any]) -> None:
        await self.forward(message)

    async def protection_clock(self, message: dict[str, Any]) -> None:
        await self.forward(message)

    async def protection_budget(self, message: dict[str, Any]) -> None:
        await self.forward(message)

    async def control_feeder_configured(self, message: dict[str, Any]) -> None:
        await self.forward_control(message)


class FeedersOverviewConsumer(LiveConsumer):
    """``ws/feeders/``: every feeder's readings, status changes, alerts and event changes.

    ``action.updated`` goes only to the feeder and event groups (one per charger would flood
    every overview), so an action ending without an event push shows at the page's slow refetch."""

    async def live_groups(self) -> list[str] | None:
        return [FEEDERS_ALL]


class FeederConsumer(LiveConsumer):
    """``ws/feeders/<id>/``: one feeder's readings, alerts, events, actions and controls' outcomes."""

    async def live_groups(self) -> list[str] | None:
        feeder_id = int(self.scope["url_route"]["kwargs"]["feeder_id"])
        exists = await database_sync_to_async(_feeder_exists)(feeder_id)
        return [feeder_group(feeder_id)] if exists else None

    async def action_updated(self, message: dict[str, Any]) -> None:
        await self.forward(message)

    async def service_request_updated(self, message: dict[str, Any]) -> None:
        await self.forward(message)

    async def control_alert_acknowledged(self, message: dict[str, Any]) -> None:
        await self.forward_control(message)

    async def control_event_requested(self, message: dict[str, Any]) -> None:
        await self.forward_control(message)

    async def control_event_cancelled(self, message: dict[str, Any]) -> None:
        await self.forward_control(message)


def _feeder_exists(feeder_id: int) -> bool:
    from feeders.models import Feeder

    return Feeder.objects.filter(pk=feeder_id).exists()
