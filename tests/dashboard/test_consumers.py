"""WebSocket consumers: login required, messages reach the right sockets, viewers never
see control messages. Real Redis channel layer (the harness's), real consumers."""

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.contrib.auth.models import AnonymousUser

from core.push import FEEDERS_ALL, event_group, feeder_group
from dnoctl.asgi import application
from tests.curtailment.factories import open_event
from tests.feeders.factories import FeederFactory

# Committed data: a consumer's database_sync_to_async reads may run on another thread
# (another connection) than the test's, so rows must not hide in the test's transaction.
pytestmark = pytest.mark.django_db(transaction=True)


def run(coro_fn, *args):
    return async_to_sync(coro_fn)(*args)


def _communicator(path: str, user) -> WebsocketCommunicator:
    from channels.routing import URLRouter

    from dnoctl.routing import websocket_urlpatterns

    communicator = WebsocketCommunicator(URLRouter(websocket_urlpatterns), path)
    communicator.scope["user"] = user
    return communicator


def test_anonymous_socket_is_refused_through_the_real_stack():
    async def scenario():
        communicator = WebsocketCommunicator(application, "/ws/feeders/", headers=[(b"origin", b"http://localhost")])
        connected, code = await communicator.connect()
        await communicator.disconnect()
        return connected, code

    assert run(scenario) == (False, 4401)


def test_logged_in_session_connects_through_the_real_stack(client, viewer):
    client.force_login(viewer)
    cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"

    async def scenario():
        communicator = WebsocketCommunicator(
            application, "/ws/feeders/", headers=[(b"origin", b"http://localhost"), (b"cookie", cookie.encode())]
        )
        connected, _ = await communicator.connect()
        await communicator.disconnect()
        return connected

    assert run(scenario) is True


def test_anonymous_is_refused_on_every_route():
    feeder = FeederFactory()

    async def scenario():
        codes = []
        for path in ("/ws/feeders/", f"/ws/feeders/{feeder.pk}/"):
            communicator = _communicator(path, AnonymousUser())
            codes.append(await communicator.connect())
            await communicator.disconnect()
        return codes

    assert run(scenario) == [(False, 4401), (False, 4401)]


def test_unknown_feeder_or_event_closes_with_4404(viewer):
    async def scenario():
        codes = []
        for path in ("/ws/feeders/999999/", "/ws/events/999999/"):
            communicator = _communicator(path, viewer)
            codes.append(await communicator.connect())
            await communicator.disconnect()
        return codes

    assert run(scenario) == [(False, 4404), (False, 4404)]


def test_reading_reaches_overview_and_its_feeder_but_not_another_feeder(viewer):
    feeder, other = FeederFactory(), FeederFactory()
    payload = {
        "feeder_id": feeder.pk,
        "code": feeder.code,
        "measured_at": "2026-10-25T01:30:00+00:00",
        "amps": [300.0, 310.0, 290.0],
        "kw": 210.0,
        "load_percent": 77.5,
        "status": "normal",
    }

    async def scenario():
        overview = _communicator("/ws/feeders/", viewer)
        mine = _communicator(f"/ws/feeders/{feeder.pk}/", viewer)
        theirs = _communicator(f"/ws/feeders/{other.pk}/", viewer)
        for communicator in (overview, mine, theirs):
            assert (await communicator.connect())[0]
        layer = get_channel_layer()
        message = {"type": "feeder.reading", "payload": payload}
        for group in (FEEDERS_ALL, feeder_group(feeder.pk)):
            await layer.group_send(group, message)
        got = [await overview.receive_json_from(timeout=5), await mine.receive_json_from(timeout=5)]
        silent = await theirs.receive_nothing(timeout=0.3)
        for communicator in (overview, mine, theirs):
            await communicator.disconnect()
        return got, silent

    got, silent = run(scenario)
    for frame in got:
        assert frame["type"] == "feeder.reading"
        assert frame["payload"]["load_percent"] == 77.5
        # 01:30 UTC on the fall-back day is 01:30 GMT (the second 01:30).
        assert frame["payload"]["measured_at_london"] == "2026-10-25 01:30:00"
        assert frame["payload"]["measured_at_label"] == "2026-10-25 01:30:00 GMT"
    assert silent is True


def test_viewer_gets_no_control_messages_but_an_operator_does(viewer, operator):
    feeder = FeederFactory()
    control = {
        "type": "control.feeder_configured",
        "payload": {"feeder_id": feeder.pk, "automatic_curtailment": False, "actor": "erin", "reason": "works"},
    }
    reading = {"type": "feeder.status", "payload": {"feeder_id": feeder.pk, "status": "at_risk"}}

    async def scenario():
        viewer_socket = _communicator(f"/ws/feeders/{feeder.pk}/", viewer)
        operator_socket = _communicator(f"/ws/feeders/{feeder.pk}/", operator)
        assert (await viewer_socket.connect())[0]
        assert (await operator_socket.connect())[0]
        layer = get_channel_layer()
        await layer.group_send(feeder_group(feeder.pk), control)
        await layer.group_send(feeder_group(feeder.pk), reading)
        operator_frames = [await operator_socket.receive_json_from(timeout=5) for _ in range(2)]
        # The viewer's next frame is the status change: the control message was dropped.
        viewer_frame = await viewer_socket.receive_json_from(timeout=5)
        viewer_more = await viewer_socket.receive_nothing(timeout=0.3)
        await viewer_socket.disconnect()
        await operator_socket.disconnect()
        return operator_frames, viewer_frame, viewer_more

    operator_frames, viewer_frame, viewer_more = run(scenario)
    assert [f["type"] for f in operator_frames] == ["control.feeder_configured", "feeder.status"]
    assert viewer_frame["type"] == "feeder.status"
    assert viewer_more is True


def test_unknown_message_type_is_dropped_without_closing_the_socket(viewer):
    async def scenario():
        socket = _communicator("/ws/feeders/", viewer)
        assert (await socket.connect())[0]
        layer = get_channel_layer()
        await layer.group_send(FEEDERS_ALL, {"type": "something.new", "payload": {}})
        await layer.group_send(FEEDERS_ALL, {"type": "feeder.alert", "payload": {"feeder_id": 1, "state": "raised"}})
        frame = await socket.receive_json_from(timeout=5)
        await socket.disconnect()
        return frame

    assert run(scenario)["type"] == "feeder.alert"


def test_event_socket_forwards_action_updates(viewer):
    event = open_event(feeder=FeederFactory())

    async def scenario():
        socket = _communicator(f"/ws/events/{event.pk}/", viewer)
        assert (await socket.connect())[0]
        await get_channel_layer().group_send(
            event_group(event.pk), {"type": "action.updated", "payload": {"action_id": 1, "status": "confirmed"}}
        )
        frame = await socket.receive_json_from(timeout=5)
        await socket.disconnect()
        return frame

    assert run(scenario) == {"type": "action.updated", "payload": {"action_id": 1, "status": "confirmed"}}


def test_idle_socket_survives_the_redis_read_timeout_and_still_receives(viewer):
    """redis-py 8 times a read out after 5 s, channels_redis blocks for 5 s: an idle socket
    used to die every few seconds. It must stay open and deliver the next message."""

    async def scenario():
        socket = _communicator("/ws/feeders/", viewer)
        assert (await socket.connect())[0]
        idle = await socket.receive_nothing(timeout=6.5, interval=0.5)
        await get_channel_layer().group_send(
            FEEDERS_ALL, {"type": "feeder.status", "payload": {"feeder_id": 1, "status": "offline"}}
        )
        frame = await socket.receive_json_from(timeout=10)
        await socket.disconnect()
        return idle, frame

    idle, frame = run(scenario)
    assert idle is True
    assert frame["payload"]["status"] == "offline"
