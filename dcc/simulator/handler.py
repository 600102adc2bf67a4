"""HTTP front of the DCC simulator (see :mod:`dcc.simulator.server`)."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any

from dcc.duis.errors import DccArgumentError, DccError

from .devices import SimulatedDevice

if TYPE_CHECKING:
    from .server import DccSimulator

logger = logging.getLogger(__name__)

SERVICE_BY_PATH = {"/api/v1/serviceD": "D", "/api/v1/serviceS": "S", "/api/v1/serviceT": "T"}


class SimulatorHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; without TCP_NODELAY, Nagle plus delayed
    # ACKs add ~40 ms to every keep-alive exchange.
    disable_nagle_algorithm = True
    server_version = "dnoctl-dcc-simulator"

    @property
    def sim(self) -> DccSimulator:
        return self.server.simulator  # type: ignore[attr-defined]

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s " + format, self.address_string(), *args)

    def _send(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, data: Any) -> None:
        self._send(status, json.dumps(data).encode())

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def do_GET(self) -> None:
        parts = self.path.strip("/").split("/")
        if parts[:2] == ["sim", "devices"] and len(parts) == 2:
            with self.sim.devices.lock:
                return self._json(200, [d.to_json(self.sim.now()) for d in self.sim.devices.all()])
        if parts[:2] == ["sim", "devices"] and len(parts) == 3:
            try:
                state = self.sim.device_state(parts[2])
            except DccArgumentError as exc:
                return self._json(400, {"error": str(exc)})
            return self._json(200, state) if state else self._json(404, {"error": "unknown device"})
        if parts[:2] == ["sim", "devices"] and len(parts) == 4 and parts[3] == "certificates":
            try:
                return self._json(200, self.sim.device_certificates(parts[2]))
            except KeyError:
                return self._json(404, {"error": "unknown device"})
            except DccArgumentError as exc:
                return self._json(400, {"error": str(exc)})
        if parts == ["sim", "state"]:
            return self._json(
                200, {"rules": self.sim.rules, "faults": asdict(self.sim.faults), "received": self.sim.received[-100:]}
            )
        self._json(404, {"error": "not found"})

    def do_POST(self) -> None:
        body = self._body()
        if self.path in SERVICE_BY_PATH:
            status, reply, content_type = self.sim.handle_duis(self.path, body)
            return self._send(status, reply, content_type)
        parts = self.path.strip("/").split("/")
        try:
            if parts[:2] == ["sim", "local"] and len(parts) == 3:
                return self._send(200, self.sim.local_deliver(parts[2], body), "application/octet-stream")
            data = json.loads(body or b"{}")
            if parts == ["sim", "devices"]:
                for item in data if isinstance(data, list) else [data]:
                    self.sim.add_device(SimulatedDevice.from_json(item))
                return self._json(201, {"ok": True})
            if parts[:2] == ["sim", "devices"] and len(parts) == 4 and parts[3] == "boost":
                return self._json(200, {"restored": self.sim.press_boost(parts[2])})
            if parts == ["sim", "faults"]:
                with self.sim._lock:
                    self.sim.faults.update(data)
                return self._json(200, asdict(self.sim.faults))
            if parts == ["sim", "rules"]:
                self.sim.set_rules(data.get("rules"))
                return self._json(200, {"rules": self.sim.rules})
            if parts == ["sim", "clock"]:
                self.sim.advance(float(data.get("advance_s", 0)))
                return self._json(200, {"now": self.sim.now()})
        except KeyError as exc:
            return self._json(404, {"error": f"unknown device {exc}"})
        except (ValueError, TypeError, DccError) as exc:
            return self._json(400, {"error": str(exc)})
        self._json(404, {"error": "not found"})
