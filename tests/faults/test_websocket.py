"""The live page's socket across a Redis restart (the channel layer lives in Redis)."""

from __future__ import annotations

import asyncio
import json

import pytest
from websockets.asyncio.client import connect

from tests.faults.conftest import login
from tests.feeders.factories import FeederFactory

pytestmark = [pytest.mark.processes, pytest.mark.faults, pytest.mark.django_db(transaction=True)]


async def _open_and_close(ws_url: str, cookie: str, origin: str) -> dict:
    """Open the socket as the page does, ping it, close it; what the server said."""
    async with connect(ws_url, additional_headers={"Cookie": cookie}, origin=origin, open_timeout=10) as socket:
        await socket.send('{"type": "ping"}')
        return json.loads(await asyncio.wait_for(socket.recv(), timeout=10))


def test_the_first_socket_after_a_redis_restart_is_accepted(live_stack, services, viewer):
    feeder = FeederFactory()
    session = login(live_stack.web_url, viewer.username, "correct-horse-battery")
    cookie = "; ".join(f"{name}={value}" for name, value in session.cookies.items())
    ws_url = live_stack.web_url.replace("http://", "ws://") + f"/ws/feeders/{feeder.pk}/"

    assert asyncio.run(_open_and_close(ws_url, cookie, live_stack.web_url)) == {"type": "pong"}
    log_before = len(live_stack.web.log.read_text())
    services.restart("redis")
    # The web server's channel-layer connections died with the server: the very first
    # socket opened afterwards must be accepted (it used to get a 500).
    assert asyncio.run(_open_and_close(ws_url, cookie, live_stack.web_url)) == {"type": "pong"}
    assert "Traceback" not in live_stack.web.log.read_text()[log_before:]
