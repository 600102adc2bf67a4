"""WebSocket consumer of the event page; authentication comes from :class:`feeders.consumers.LiveConsumer`."""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async

from core.push import event_group
from feeders.consumers import LiveConsumer


class EventConsumer(LiveConsumer):
    """``ws/events/<id>/``: joins ``curtailment.event-<id>``."""

    async def live_groups(self) -> list[str] | None:
        event_id = int(self.scope["url_route"]["kwargs"]["event_id"])
        exists = await database_sync_to_async(_event_exists)(event_id)
        return [event_group(event_id)] if exists else None

    async def action_updated(self, message: dict[str, Any]) -> None:
        await self.forward(message)

    async def service_request_updated(self, message: dict[str, Any]) -> None:
        await self.forward(message)

    async def notification_updated(self, message: dict[str, Any]) -> None:
        await self.forward(message)

    async def control_event_cancelled(self, message: dict[str, Any]) -> None:
        await self.forward_control(message)


def _event_exists(event_id: int) -> bool:
    from curtailment.models import CurtailmentEvent

    return CurtailmentEvent.objects.filter(pk=event_id).exists()
