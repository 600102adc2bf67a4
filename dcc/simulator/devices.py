"""Simulated HCALCS devices behind a comms hub.

Each device has up to five switches. A 7.6 switches one off until a deadline and the
device itself switches it back on when the deadline passes (modelled by computing state
from the simulator clock: nothing has to "fire"). Devices execute each RequestID once,
as GBCS anti-replay on a real device does, so the same command delivered over the WAN
and locally (CV 7) acts once.
"""

from __future__ import annotations

import datetime as dt
import functools
import threading
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from dcc.duis.identifiers import parse_eui64, validate_index
from dcc.gbcs.certificates import certificate_make

WAN_OK = "ok"
WAN_POOR = "poor"  # the comms hub never answers over the WAN; local delivery still works


def _iso(ts: float | None) -> str | None:
    return None if ts is None else dt.datetime.fromtimestamp(ts, dt.UTC).isoformat()


@dataclass
class SimulatedDevice:
    """One HCALCS (and its comms hub's WAN quality)."""

    eui64: str
    eno_firmware: bool = True
    wan: str = WAN_OK
    switch_indexes: tuple[int, ...] = (1,)
    off_until: dict[int, float] = field(default_factory=dict)
    boost_button: set[int] = field(default_factory=set)
    boost_presses: list[float] = field(default_factory=list)
    executed: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Every command the device really ran, in order: (RequestID, SRV, simulator time). Fault
    # tests compare it with dnoctl's ledger (e.g. no charger switched off twice by one action).
    executions: list[tuple[str, str, float]] = field(default_factory=list)
    # The ESME's own GBCS keys: it signs critical-command answers (DS) and MACs the rest (KA).
    ds_key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    ka_key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    alert_counter: int = 0

    def __post_init__(self) -> None:
        self.eui64 = parse_eui64(self.eui64, argument="eui64")
        self.switch_indexes = tuple(sorted({validate_index(i, argument="switch_indexes") for i in self.switch_indexes}))
        if self.wan not in (WAN_OK, WAN_POOR):
            raise ValueError(f"wan: must be 'ok' or 'poor', got {self.wan!r}")

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SimulatedDevice:
        """Build from the admin API's JSON ({eui64, eno_firmware, wan, switch_indexes})."""
        return cls(
            eui64=data["eui64"],
            eno_firmware=bool(data.get("eno_firmware", True)),
            wan=str(data.get("wan", WAN_OK)),
            switch_indexes=tuple(data.get("switch_indexes", (1,))),
        )

    @functools.cached_property
    def certificates(self) -> dict[str, x509.Certificate]:
        """The device's GBCS certificates as SMKI publishes them (``"DS"``, ``"KA"``)."""
        return {
            usage: certificate_make(eui64=self.eui64, usage=usage, key=key, device=True)
            for usage, key in (("DS", self.ds_key), ("KA", self.ka_key))
        }

    def certificates_pem(self) -> dict[str, str]:
        return {
            usage: cert.public_bytes(serialization.Encoding.PEM).decode() for usage, cert in self.certificates.items()
        }

    def next_alert_counter(self, now: float) -> int:
        """A strictly increasing originator counter for the device's own alerts."""
        self.alert_counter = max(self.alert_counter + 1, int(now * 1000))
        return self.alert_counter

    def switch_state(self, index: int, now: float) -> str:
        until = self.off_until.get(index)
        return "off" if until is not None and until > now else "on"

    def to_json(self, now: float) -> dict[str, Any]:
        return {
            "eui64": self.eui64,
            "eno_firmware": self.eno_firmware,
            "wan": self.wan,
            "switch_indexes": list(self.switch_indexes),
            "switches": {
                str(i): {
                    "state": self.switch_state(i, now),
                    "off_until": _iso(self.off_until.get(i)) if self.switch_state(i, now) == "off" else None,
                }
                for i in self.switch_indexes
            },
            "boost_button": sorted(self.boost_button),
            "boost_presses": [_iso(t) for t in self.boost_presses],
            "commands_executed": len(self.executed),
        }

    # ------------------------------------------------------------------ commands

    def execute(self, *, request_id: str, srv: str, body: dict[str, Any], now: float) -> dict[str, Any]:
        """Run one command once; repeated RequestIDs return the first result unchanged."""
        if request_id in self.executed:
            return self.executed[request_id]
        result = self._run(srv, body, now)
        self.executed[request_id] = result
        self.executions.append((request_id, srv, now))
        return result

    def _run(self, srv: str, body: dict[str, Any], now: float) -> dict[str, Any]:
        index = body.get("index")
        if srv in ("7.6", "7.8") and index not in self.switch_indexes:
            return {"status": "failure", "detail": {"reason": f"no switch {index}"}}
        if srv == "7.6":
            self.off_until[index] = now + 60 * int(body["duration_minutes"])
            return {
                "status": "success",
                "detail": {"index": index, "state": "off", "off_until": _iso(self.off_until[index])},
            }
        if srv == "7.8":
            self.off_until.pop(index, None)
            return {"status": "success", "detail": {"index": index, "state": "on"}}
        if srv == "7.7":
            return {
                "status": "success",
                "detail": {"switches": {str(i): self.switch_state(i, now) for i in self.switch_indexes}},
            }
        if srv == "7.9":
            self.boost_button |= set(body["indexes"]) & set(self.switch_indexes)
            return {"status": "success", "detail": {"boost_button": sorted(self.boost_button)}}
        if srv == "7.10":
            self.boost_button -= set(body["indexes"])
            return {"status": "success", "detail": {"boost_button": sorted(self.boost_button)}}
        if srv == "7.11":
            start, end = body["start"], body["end"]
            presses = [t for t in self.boost_presses if start <= t <= end]
            return {"status": "success", "detail": {"presses": presses, "boost_button": sorted(self.boost_button)}}
        return {"status": "failure", "detail": {"reason": f"unsupported SRV {srv}"}}

    def press_boost(self, now: float) -> list[int]:
        """The customer presses boost: switches on the boost button that are off come back on."""
        self.boost_presses.append(now)
        restored = [i for i in sorted(self.boost_button) if self.switch_state(i, now) == "off"]
        for index in restored:
            self.off_until.pop(index, None)
        return restored


class DeviceRegistry:
    """Thread-safe map of EUI-64 -> device; callers hold ``lock`` while mutating a device."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self._devices: dict[str, SimulatedDevice] = {}

    def add(self, device: SimulatedDevice) -> None:
        with self.lock:
            self._devices[device.eui64] = device

    def get(self, eui64: str) -> SimulatedDevice | None:
        with self.lock:
            return self._devices.get(eui64)

    def all(self) -> list[SimulatedDevice]:
        with self.lock:
            return list(self._devices.values())
