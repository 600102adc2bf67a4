"""The overview socket gets what the real services push: a head-end batch's one
``feeder.readings`` list, and the messages that drive its header counters."""

import json
from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.test import Client
from django.utils import timezone

from dnoctl.routing import websocket_urlpatterns
from feeders.events import FEEDERS_ALL_SINGLE_LIMIT
from feeders.services import monitor_token_issue
from tests.feeders.factories import FeederFactory

# Committed data: the consumer's reads may run on another connection than the test's.
pytestmark = pytest.mark.django_db(transaction=True)


def _overview(user) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(URLRouter(websocket_urlpatterns), "/ws/feeders/")
    communicator.scope["user"] = user
    return communicator


def test_sixty_feeder_batch_reaches_the_overview_as_one_list_with_every_feeder(viewer):
    feeders = [FeederFactory(code=f"BIG{n:03d}") for n in range(60)]
    assert len(feeders) > FEEDERS_ALL_SINGLE_LIMIT
    token = monitor_token_issue(name="head-end")
    # A recent reading, so no feeder goes offline on the way.
    at = (timezone.now() - timedelta(minutes=1)).replace(microsecond=0)
    rows = [
        {"feeder": f.code, "measured_at": at.isoformat(), "amps": [100.0 + i, 90.0, 80.0], "kw": 60.0}
        for i, f in enumerate(feeders)
    ]

    def post():
        return Client().post(
            "/api/v1/telemetry/",
            data=json.dumps({"readings": rows}),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {token}",
        )

    async def scenario():
        socket = _overview(viewer)
        assert (await socket.connect())[0]
        response = await sync_to_async(post)()
        frame = await socket.receive_json_from(timeout=10)
        more = await socket.receive_nothing(timeout=0.3)
        await socket.disconnect()
        return response, frame, more

    response, frame, more = async_to_sync(scenario)()

    assert response.status_code == 202, response.content
    assert frame["type"] == "feeder.readings"
    readings = frame["payload"]["readings"]
    assert sorted(r["feeder_id"] for r in readings) == sorted(f.pk for f in feeders)
    by_id = {r["feeder_id"]: r for r in readings}
    first = by_id[feeders[0].pk]
    assert first["load_percent"] == 25.0  # 100 A of 400 A on the most loaded phase
    assert first["status"] == "normal"
    # Each reading carries the wall-clock copies a single feeder.reading gets.
    assert all(r["measured_at_label"].endswith(("GMT", "BST")) for r in readings)
    assert all("measured_at_london" in r for r in readings)
    assert more is True  # one message, not sixty


def test_curtailing_chargers_reach_the_overview_as_event_updated_and_the_counter_counts_them(
    viewer, viewer_client, operator
):
    """The overview gets no ``action.updated``: its "chargers curtailed now" counter is
    refetched on ``event.updated`` (and ``feeder.status``), which the engine pushes to
    ``feeders.all`` with the event's live actions whenever they change."""
    import redis
    from django.conf import settings
    from django.urls import reverse

    from curtailment.services import curtailment_event_start
    from tests.consent.factories import eligible_charger

    feeder = FeederFactory()
    eligible_charger(feeder=feeder)
    assert viewer_client.get(reverse("feeders:counters")).json()["chargers_curtailed"] == 0

    def start():
        return curtailment_event_start(
            feeder=feeder,
            reduction_kw=5.0,
            duration_minutes=30,
            reason="overload on the test feeder",
            requested_by=operator,
        )

    async def scenario():
        socket = _overview(viewer)
        assert (await socket.connect())[0]
        event = await sync_to_async(start)()
        frames = []
        while not any(f["type"] == "event.updated" for f in frames):
            frames.append(await socket.receive_json_from(timeout=10))
        await socket.disconnect()
        return event, frames

    try:
        event, frames = async_to_sync(scenario)()
    finally:
        # The dispatch tasks the event queued: no worker here, so drop them.
        redis.Redis.from_url(settings.CELERY_BROKER_URL).delete("celery")

    update = next(f["payload"] for f in frames if f["type"] == "event.updated")
    assert (update["event_id"], update["live_actions"]) == (event.pk, 1)
    counters = viewer_client.get(reverse("feeders:counters")).json()
    assert (counters["chargers_curtailed"], counters["active_events"]) == (1, 1)
