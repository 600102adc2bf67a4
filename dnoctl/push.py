"""Pushing typed payloads to Channels groups, after the transaction that caused them commits.

Group names (one group per object, as in openwisp-monitoring):

* ``feeders.all``: every feeder's summary (overview page)
* ``feeders.feeder-<id>``: one feeder's readings, alerts and events
* ``curtailment.event-<id>``: one event's actions and service requests

A message's ``type`` is ``<app>.<what>`` (e.g. ``feeder.reading``), which Channels routes to
the consumer handler ``feeder_reading``. Payload shapes are TypedDicts in each app's
``events.py``. Redis may be lost: a failed push is logged, never raised into the service
that caused it, because the database is the truth and the page reloads from it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

logger = logging.getLogger(__name__)

FEEDERS_ALL = "feeders.all"


def feeder_group(feeder_id: int) -> str:
    return f"feeders.feeder-{feeder_id}"


def event_group(event_id: int) -> str:
    return f"curtailment.event-{event_id}"


def push_now(groups: list[str], message_type: str, payload: Mapping[str, Any]) -> None:
    """Send ``payload`` as ``message_type`` to each group now (outside any transaction)."""
    layer = get_channel_layer()
    if layer is None:
        return
    message = {"type": message_type, "payload": dict(payload)}
    for group in groups:
        try:
            async_to_sync(layer.group_send)(group, message)
        except Exception:  # a lost Redis must not fail the service that changed the data
            logger.exception("push of %s to %s failed", message_type, group)


def push_on_commit(groups: list[str], message_type: str, payload: Mapping[str, Any]) -> None:
    """Queue the push for when the current transaction commits (now, if there is none)."""
    transaction.on_commit(lambda: push_now(groups, message_type, payload))
