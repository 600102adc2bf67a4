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
