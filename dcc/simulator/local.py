"""A stand-in PPMID/HHT that reaches simulated devices over the simulator's HTTP admin API."""

from __future__ import annotations

import requests


class HttpLocalDelivery:
    """A :class:`~dcc.duis.client.LocalDeliveryInterface` that reaches simulated
    devices through the simulator's ``/sim/local/<eui>`` endpoint (a stand-in PPMID/HHT)."""

    def __init__(self, simulator_url: str, *, timeout: float = 5.0) -> None:
        self.simulator_url = simulator_url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()

    def deliver(self, *, target: str, command: bytes) -> bytes:
        reply = self.session.post(f"{self.simulator_url}/sim/local/{target}", data=command, timeout=self.timeout)
        reply.raise_for_status()
        return reply.content
