"""What the feeders app pushes to Channels groups (``dnoctl.push``), as typed payloads.

Message types and their consumer handlers:

* ``feeder.reading`` -> ``feeder_reading``: the feeder's newest reading, to ``feeders.all``
  and ``feeders.feeder-<id>``. Sent once per feeder per ingest batch (its newest new
  reading), not once per row: a screen needs the latest value, and a head-end backlog of
  thousands of rows must not flood the channel layer.
* ``feeder.status`` -> ``feeder_status``: a status change (normal, at_risk, curtailing,
  offline), to the same two groups.
* ``feeder.alert`` -> ``feeder_alert``: an alert raised or cleared, to the same two groups.

Times are ISO 8601 in UTC (``...+00:00``); the page converts them to Europe/London.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypedDict

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from dnoctl.push import FEEDERS_ALL, feeder_group, push_on_commit

logger = logging.getLogger(__name__)

READING = "feeder.reading"
STATUS = "feeder.status"
ALERT = "feeder.alert"


class FeederReadingPayload(TypedDict):
    feeder_id: int
    code: str
    measured_at: str
    amps: list[float]
    kw: float
    load_percent: float
    status: str


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


def iso_utc(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC, or None."""
    return moment.astimezone(UTC).isoformat() if moment is not None else None


def feeder_groups(feeder_id: int) -> list[str]:
    return [FEEDERS_ALL, feeder_group(feeder_id)]


def reading_pushed(payload: FeederReadingPayload) -> None:
    """Queue a ``feeder.reading`` push for when the transaction commits."""
    push_on_commit(feeder_groups(payload["feeder_id"]), READING, payload)


def status_pushed(payload: FeederStatusPayload) -> None:
    """Queue a ``feeder.status`` push for when the transaction commits."""
    push_on_commit(feeder_groups(payload["feeder_id"]), STATUS, payload)


def alert_pushed(payload: FeederAlertPayload) -> None:
    """Queue a ``feeder.alert`` push for when the transaction commits."""
    push_on_commit(feeder_groups(payload["feeder_id"]), ALERT, payload)


def pushes_on_commit(messages: list[tuple[list[str], str, dict | Callable[[], dict]]]) -> None:
    """Queue many pushes as one on-commit callback. A payload may be a zero-argument
    callable, called only if the message is actually sent.

    An ingest batch touches hundreds of feeders, but only the few feeders someone has open
    have a subscribed socket: the callback sends only to groups with subscribers (see
    ``_ListenedGroups``), a bounded number at a time. Failures are logged, never raised:
    the database is the truth (``dnoctl.push``).
    """
    if messages:
        transaction.on_commit(lambda: _send_all(messages))


# How many group sends may be in flight at once (channels_redis' pool is finite).
SEND_CONCURRENCY = 16
# How long the set of listened groups is trusted. A page opened within this time may miss
# a second of live readings; it drew its initial figure from the database anyway.
LISTENED_TTL_S = 1.0


class _ListenedGroups:
    """Which groups have subscribers, as last seen in Redis (per process).

    channels_redis keeps each group as a sorted set ``<prefix>:group:<name>`` that exists
    only while it has members, and only the few feeders someone has open have one. One
    ``SCAN`` a second finds them all, so an ingest batch for feeders nobody watches costs
    no Redis round trip at all. Other layers (the in-memory one of the embedded demo) are
    cheap to send to, so for them every group counts as listened.
    """

    def __init__(self) -> None:
        self.groups: set[str] = set()
        self.seen_at = float("-inf")

    def forget(self) -> None:
        """Look again on the next push (tests subscribe and expect the very next push)."""
        self.seen_at = float("-inf")

    def fresh(self) -> bool:
        return time.monotonic() - self.seen_at < LISTENED_TTL_S

    async def refresh(self, layer) -> None:
        prefix = f"{layer.prefix}:group:"
        found: set[str] = set()
        for index in range(layer.ring_size):
            async for key in layer.connection(index).scan_iter(match=f"{prefix}*", count=1000):
                found.add(key.decode()[len(prefix) :])
        self.groups, self.seen_at = found, time.monotonic()


_listened = _ListenedGroups()


def _tracks_groups(layer) -> bool:
    return all(hasattr(layer, name) for name in ("prefix", "ring_size", "connection"))


def _send_all(messages: list[tuple[list[str], str, dict | Callable[[], dict]]]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    tracks = _tracks_groups(layer)
    if tracks and _listened.fresh():
        messages = [
            (groups, kind, payload) for groups, kind, payload in messages if _listened.groups.intersection(groups)
        ]
        if not messages:
            return

    async def send() -> None:
        if tracks and not _listened.fresh():
            await _listened.refresh(layer)
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
                if not tracks or group in _listened.groups
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
