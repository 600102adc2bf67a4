"""The engine's pushes through the Redis channel layer (``curtailment.events``): a burst
reaches every listened group, in order, and nothing is lost when other groups of the same
burst have no subscriber (those are skipped)."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from asgiref.sync import async_to_sync
from channels.layers import DEFAULT_CHANNEL_LAYER, channel_layers
from django.db import transaction

from core.push import event_group, groups_with_members, push_on_commit
from curtailment.events import ACTION_UPDATED

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
    listened = {event_group(910_100 + n) for n in (3, 17, 250)}
    for group in listened:
        async_to_sync(layer.group_add)(group, channel)
    try:
        asked = listened | {event_group(910_100 + n) for n in range(300)}  # 297 empty groups besides
        found = async_to_sync(groups_with_members)(layer, asked)
        assert async_to_sync(groups_with_members)(layer, {event_group(910_099)}) == set()
    finally:
        for group in listened:
            async_to_sync(layer.group_discard)(group, channel)
    assert found == listened


class _EventListener:
    """A channel in one event's group on the real Redis layer."""

    def __init__(self, event_id: int) -> None:
        self.layer = channel_layers.make_backend(DEFAULT_CHANNEL_LAYER)
        self.group = event_group(event_id)
        self.channel = async_to_sync(self.layer.new_channel)()
        async_to_sync(self.layer.group_add)(self.group, self.channel)

    def event_updates(self, *, at_least: int = 1) -> list[dict]:
        """The ``event.updated`` payloads received, waiting for ``at_least`` of them."""
        updates: list[dict] = []

        async def read() -> None:
            while len(updates) < at_least:
                message = await asyncio.wait_for(self.layer.receive(self.channel), 10)
                if message["type"] == "event.updated":
                    updates.append(message["payload"])

        async_to_sync(read)()
        return updates

    def close(self) -> None:
        async_to_sync(self.layer.group_discard)(self.group, self.channel)


def _event_with_one_charger(operator):
    from curtailment.services import curtailment_event_start
    from tests.consent.factories import eligible_charger
    from tests.feeders.factories import FeederFactory

    feeder = FeederFactory()
    eligible_charger(feeder=feeder)
    return curtailment_event_start(
        feeder=feeder, reduction_kw=7, duration_minutes=30, reason="t", requested_by=operator
    )


def test_an_action_ending_by_its_duration_in_the_recheck_pushes_the_event_counts(operator):
    from curtailment.choices import ActionStatus
    from curtailment.models import CurtailmentAction
    from curtailment.services.recheck import actions_reconcile

    event = _event_with_one_charger(operator)
    action = event.actions.get()
    CurtailmentAction.objects.filter(pk=action.pk).update(status=ActionStatus.CONFIRMED)
    listener = _EventListener(event.pk)
    try:
        assert actions_reconcile(event=event, now=action.expected_end_at + dt.timedelta(seconds=1)) == 1
        update = listener.event_updates()[-1]
    finally:
        listener.close()
    assert (update["event_id"], update["live_actions"], update["live_kw"]) == (event.pk, 0, 0.0)


def test_an_action_marked_late_with_no_replacement_pushes_the_event_counts(operator):
    from curtailment.choices import ActionStatus
    from curtailment.models import CurtailmentAction
    from curtailment.services import action_late

    event = _event_with_one_charger(operator)
    action = event.actions.get()
    CurtailmentAction.objects.filter(pk=action.pk).update(status=ActionStatus.ACKNOWLEDGED)
    listener = _EventListener(event.pk)
    try:
        assert action_late(action_id=action.pk, now=action.started_at + dt.timedelta(seconds=31))
        update = listener.event_updates()[-1]
    finally:
        listener.close()
    # Still live (the device may act on it late), but its kW no longer count.
    assert (update["live_actions"], update["live_kw"]) == (1, 0.0)
