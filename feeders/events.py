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


def pushes_on_commit(messages: list[tuple[list[str], str, dict]]) -> None:
    """Queue many pushes as one on-commit callback that sends them concurrently.

    An ingest batch can touch hundreds of feeders; one ``async_to_sync`` hop per message
    would cost more than the database work, so they all go out in one event-loop turn.
    Failures are logged, never raised: the database is the truth (see ``dnoctl.push``).
    """
    if messages:
        transaction.on_commit(lambda: _send_all(messages))


def _send_all(messages: list[tuple[list[str], str, dict]]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return

    async def send() -> None:
        sends = [
            layer.group_send(group, {"type": message_type, "payload": payload})
            for groups, message_type, payload in messages
            for group in groups
        ]
        results = await asyncio.gather(*sends, return_exceptions=True)
        failures = [result for result in results if isinstance(result, BaseException)]
        if failures:
            logger.error("%d of %d feeder pushes failed: %r", len(failures), len(results), failures[0])

    try:
        async_to_sync(send)()
    except Exception:  # a lost Redis must not fail the request that stored the data
        logger.exception("feeder pushes failed")
