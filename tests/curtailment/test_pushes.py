"""The engine's pushes through the Redis channel layer (``curtailment.events``): a burst
reaches every listened group, in order, and nothing is lost when other groups of the same
burst have no subscriber (those are skipped)."""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import async_to_sync
from channels.layers import DEFAULT_CHANNEL_LAYER, channel_layers
from django.db import transaction

from curtailment.events import ACTION_UPDATED, push_on_commit
from dnoctl.push import event_group, groups_with_members

pytestmark = pytest.mark.django_db(transaction=True)


def _receive_all(layer, channel: str, expected: int, timeout: float = 10.0) -> list[dict]:
    """Read ``expected`` messages in one event loop (the Redis layer's receive buffer is
    per loop)."""

    async def read() -> list[dict]:
        return [await asyncio.wait_for(layer.receive(channel), timeout) for _ in range(expected)]

    return async_to_sync(read)()


def test_a_burst_of_pushes_reaches_the_listened_group_whole_and_in_order_among_unlistened_ones():
    layer = channel_layers.make_backend(DEFAULT_CHANNEL_LAYER)
    channel = async_to_sync(layer.new_channel)()
    listened, unlistened = event_group(910_001), event_group(910_002)
    async_to_sync(layer.group_add)(listened, channel)
    try:
        with transaction.atomic():  # one burst: every push goes out at commit
            for step in range(20):
                for group in (unlistened, listened):
                    push_on_commit([group], ACTION_UPDATED, {"group": group, "step": step})
        messages = _receive_all(layer, channel, 20)
    finally:
        async_to_sync(layer.group_discard)(listened, channel)
    assert [m["payload"]["step"] for m in messages] == list(range(20))
    assert {m["payload"]["group"] for m in messages} == {listened}
    assert all(m["type"] == ACTION_UPDATED for m in messages)


def test_groups_with_members_names_only_groups_someone_subscribed_to():
    layer = channel_layers.make_backend(DEFAULT_CHANNEL_LAYER)
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(event_group(910_003), channel)
    try:
        found = async_to_sync(groups_with_members)(layer, {event_group(910_003), event_group(910_004)})
    finally:
        async_to_sync(layer.group_discard)(event_group(910_003), channel)
    assert found == {event_group(910_003)}
