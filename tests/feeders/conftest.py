"""Fixtures for the feeders tests: a feeder, monitor tokens, and a telemetry poster."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from django.test import Client
from django.utils import timezone

from feeders.services import monitor_token_issue
from tests.feeders.factories import FeederFactory

TELEMETRY_URL = "/api/v1/telemetry/"
ALERTS_URL = "/api/v1/alerts/"


@pytest.fixture
def feeder(db):
    """A three-phase 400 A feeder, at risk at 90 %, clear below 80 %."""
    return FeederFactory(code="FDR-A", monitor_device_id="MON-A", rating_amps=400.0)


@pytest.fixture
def other_feeder(db):
    return FeederFactory(code="FDR-B", monitor_device_id="MON-B", rating_amps=200.0)


@pytest.fixture
def head_end_token(db) -> str:
    """An unbound token: a monitoring head-end that may post for any feeder."""
    return monitor_token_issue(name="head-end")


@pytest.fixture
def monitor_a_token(feeder) -> str:
    """A token bound to feeder A's monitor."""
    return monitor_token_issue(name="monitor-a", monitor_device_id="MON-A")


def reading(feeder_code: str, at: datetime, amps: list[float] | float, kw: float | None = None, **extra) -> dict:
    """A telemetry row; ``amps`` as one number means the same on all three phases."""
    phases = amps if isinstance(amps, list) else [amps, amps, amps]
    return {
        "feeder": feeder_code,
        "measured_at": at.isoformat(),
        "amps": phases,
        "kw": kw if kw is not None else round(sum(phases) * 0.23, 3),
        **extra,
    }


def minutes_ago(minutes: float, now: datetime | None = None) -> datetime:
    return (now or timezone.now()) - timedelta(minutes=minutes)


@pytest.fixture
def post_telemetry(client: Client) -> Callable:
    """POST a batch (a list of rows, or any body) with a bearer token; returns the response."""

    def post(token: str | None, body, *, raw: bytes | None = None):
        payload = raw if raw is not None else json.dumps(body if not isinstance(body, list) else {"readings": body})
        headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token is not None else {}
        return client.post(TELEMETRY_URL, data=payload, content_type="application/json", **headers)

    return post


@pytest.fixture
def feeder_pushes():
    """Subscribe a fresh channel to ``feeders.all``; call the result to drain what arrived."""
    import asyncio

    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    from core.push import FEEDERS_ALL

    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(FEEDERS_ALL, channel)

    async def drain() -> list[dict]:
        messages = []
        while True:
            try:
                messages.append(await asyncio.wait_for(layer.receive(channel), timeout=0.3))
            except TimeoutError:
                return messages

    yield lambda: async_to_sync(drain)()
    async_to_sync(layer.group_discard)(FEEDERS_ALL, channel)
