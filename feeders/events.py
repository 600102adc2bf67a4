"""What the feeders app pushes to Channels groups (``core.push``), as typed payloads.

A head-end batch moving many feeders sends ``feeder.readings`` (one list) to ``feeders.all``
instead of one ``feeder.reading`` each, because every ``group_send`` costs Redis round trips.
Operator names and reasons go only in ``control.*`` messages, never in ``feeder.updated``."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TypedDict

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from core.push import FEEDERS_ALL, feeder_group, groups_with_members, push_on_commit

logger = logging.getLogger(__name__)

READING = "feeder.reading"
READINGS = "feeder.readings"
# Batches moving more feeders than this send ``feeders.all`` one ``feeder.readings`` list.
FEEDERS_ALL_SINGLE_LIMIT = 50
STATUS = "feeder.status"
ALERT = "feeder.alert"
UPDATED = "feeder.updated"


class FeederReadingPayload(TypedDict):
    feeder_id: int
    code: str
    measured_at: str
    amps: list[float]
    kw: float
    load_percent: float
    status: str


class FeederReadingsPayload(TypedDict):
    readings: list[FeederReadingPayload]


class FeederStatusPayload(TypedDict):
    feeder_id: int
    code: str
    status: str
    previous_status: str
    last_reading_at: str | None
    load_percent: float | None


class FeederAlertPayload(TypedDict):
    feeder_id: int
    code: str
    alert_id: int
    kind: str
    state: str  # "raised" or "cleared"
    raised_at: str
    cleared_at: str | None
    load_percent: float | None


class FeederUpdatedPayload(TypedDict):
    feeder_id: int
    code: str
    change: str  # "automatic_curtailment" or "alert_acknowledged"
    automatic_curtailment: bool
    alert_id: int | None
    acknowledged_at: str | None


def feeder_groups(feeder_id: int) -> list[str]:
    return [FEEDERS_ALL, feeder_group(feeder_id)]


def status_pushed(payload: FeederStatusPayload) -> None:
    push_on_commit(feeder_groups(payload["feeder_id"]), STATUS, payload)


def updated_pushed(payload: FeederUpdatedPayload) -> None:
    push_on_commit(feeder_groups(payload["feeder_id"]), UPDATED, payload)


def pushes_on_commit(messages: list[tuple[list[str], str, dict | Callable[[], dict]]]) -> None:
    """Queue many pushes as one on-commit callback, sent only to groups with subscribers. A
    payload may be a callable, called only if the message is sent."""
    if messages:
        transaction.on_commit(lambda: _send_all(messages))


# How many group sends may be in flight at once (channels_redis' pool is finite).
SEND_CONCURRENCY = 16


def _send_all(messages: list[tuple[list[str], str, dict | Callable[[], dict]]]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return

    async def send() -> None:
        listened = await groups_with_members(layer, {group for groups, _, _ in messages for group in groups})
        if not listened:
            return
        limit = asyncio.Semaphore(SEND_CONCURRENCY)

        async def one(group: str, message_type: str, payload: dict | Callable[[], dict]) -> None:
            async with limit:
                body = payload() if callable(payload) else payload
                await layer.group_send(group, {"type": message_type, "payload": body})

        results = await asyncio.gather(
            *(
                one(group, message_type, payload)
                for message_groups, message_type, payload in messages
                for group in message_groups
                if group in listened
            ),
            return_exceptions=True,
        )
        failures = [result for result in results if isinstance(result, BaseException)]
        if failures:
            logger.error("%d of %d feeder pushes failed: %r", len(failures), len(results), failures[0])

    try:
        async_to_sync(send)()
    except Exception:  # a lost Redis must not fail the request that stored the data
        logger.exception("feeder pushes failed")
