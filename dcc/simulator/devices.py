"""Simulated auxiliary controllers (HCALCS, APC) behind a comms hub.

State is computed from the simulator clock, so a device reverting at its deadline needs nothing to
fire. Each RequestID runs once, as GBCS anti-replay on a real device, so a CV 7 delivered both ways
acts once. On an APC the level in force is the lowest of the 7.13 state and 7.16 limit in their
periods (a later command of the same kind replaces the earlier), 0 under a 7.6; an HCALCS refuses a
7.16.
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


FULL_LEVEL = 100


@dataclass(frozen=True)
class ControllerLevel:
    """A level commanded for a period (7.13 state or 7.16 limit), in simulator seconds."""

    level: int
    start: float
    end: float

    def holds(self, now: float) -> bool:
        return self.start <= now < self.end

    def to_json(self) -> dict[str, Any]:
        return {"level": self.level, "start": _iso(self.start), "end": _iso(self.end)}


@dataclass
class SimulatedDevice:
    """One meter's auxiliary controllers (HCALCS or APC) and its comms hub's WAN quality."""

    eui64: str
    eno_firmware: bool = True
    wan: str = WAN_OK
    switch_indexes: tuple[int, ...] = (1,)
    apc_indexes: tuple[int, ...] = ()  # which of switch_indexes are APCs
    apc_max_kw: float = 7.4  # the maximum flow of the charger behind each APC
    off_until: dict[int, float] = field(default_factory=dict)
    states: dict[int, ControllerLevel] = field(default_factory=dict)  # 7.13
    limits: dict[int, ControllerLevel] = field(default_factory=dict)  # 7.16
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
        self.apc_indexes = tuple(sorted({validate_index(i, argument="apc_indexes") for i in self.apc_indexes}))
        if not set(self.apc_indexes) <= set(self.switch_indexes):
            raise ValueError(f"apc_indexes: {self.apc_indexes} are not all among switch_indexes {self.switch_indexes}")
        if not self.apc_max_kw > 0:
            raise ValueError(f"apc_max_kw: must be above 0, got {self.apc_max_kw!r}")

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SimulatedDevice:
        return cls(
            eui64=data["eui64"],
            eno_firmware=bool(data.get("eno_firmware", True)),
            wan=str(data.get("wan", WAN_OK)),
            switch_indexes=tuple(data.get("switch_indexes", (1,))),
            apc_indexes=tuple(data.get("apc_indexes", ())),
            apc_max_kw=float(data.get("apc_max_kw", 7.4)),
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

    def level(self, index: int, now: float) -> int:
        until = self.off_until.get(index)
        if until is not None and until > now:
            return 0
        commanded = (self.states.get(index), self.limits.get(index))
        return min((c.level for c in commanded if c is not None and c.holds(now)), default=FULL_LEVEL)

    def switch_state(self, index: int, now: float) -> str:
        """``off``/``on`` for an HCALCS (below 100 is off); for an APC ``off`` at 0, ``limited`` below 100."""
        level = self.level(index, now)
        if index not in self.apc_indexes:
            return "on" if level == FULL_LEVEL else "off"
        return "on" if level == FULL_LEVEL else "off" if level == 0 else "limited"

    def charger_kw(self, index: int, now: float, *, demand_kw: float | None = None) -> float:
        """What the charger behind APC ``index`` draws now: its demand, capped by its level."""
        ceiling = self.apc_max_kw * self.level(index, now) / FULL_LEVEL
        return min(self.apc_max_kw if demand_kw is None else demand_kw, ceiling)

    def to_json(self, now: float) -> dict[str, Any]:
        return {
            "eui64": self.eui64,
            "eno_firmware": self.eno_firmware,
            "wan": self.wan,
            "switch_indexes": list(self.switch_indexes),
            "switches": {str(i): self._switch_json(i, now) for i in self.switch_indexes},
            "boost_button": sorted(self.boost_button),
            "boost_presses": [_iso(t) for t in self.boost_presses],
            "commands_executed": len(self.executed),
        }

    def _switch_json(self, index: int, now: float) -> dict[str, Any]:
        state = self.switch_state(index, now)
        until = self.off_until.get(index)
        entry: dict[str, Any] = {
            "kind": "apc" if index in self.apc_indexes else "hcalcs",
            "state": state,
            "level": self.level(index, now),
            "off_until": _iso(until) if until is not None and until > now else None,
        }
        for name, commanded in (("commanded_state", self.states.get(index)), ("limit", self.limits.get(index))):
            entry[name] = commanded.to_json() if commanded is not None and commanded.end > now else None
        if index in self.apc_indexes:
            entry["charger_kw"] = round(self.charger_kw(index, now), 3)
        return entry

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
        if srv in ("7.6", "7.8", "7.13", "7.16") and index not in self.switch_indexes:
            return {"status": "failure", "detail": {"reason": f"no switch {index}"}}
        if srv in ("7.13", "7.16"):
            return self._run_level(srv, index, body, now)
        if srv == "7.6":
            self.off_until[index] = now + 60 * int(body["duration_minutes"])
            return {
                "status": "success",
                "detail": {"index": index, "state": "off", "off_until": _iso(self.off_until[index])},
            }
        if srv == "7.8":
            self.off_until.pop(index, None)
            self.states.pop(index, None)
            return {"status": "success", "detail": {"index": index, "state": self.switch_state(index, now)}}
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

    def _run_level(self, srv: str, index: int, body: dict[str, Any], now: float) -> dict[str, Any]:
        """7.13 sets a controller's state for a period, 7.16 its limit (APC only); each replaces its kind."""
        if srv == "7.16" and index not in self.apc_indexes:
            return {"status": "failure", "detail": {"reason": f"switch {index} is not an APC"}}
        commanded = ControllerLevel(
            level=int(body["level"]), start=body["start"].timestamp(), end=body["end"].timestamp()
        )
        (self.states if srv == "7.13" else self.limits)[index] = commanded
        detail = {"index": index, **commanded.to_json(), "state": self.switch_state(index, now)}
        return {"status": "success", "detail": detail}

    def press_boost(self, now: float) -> list[int]:
        """Boost brings controllers on the boost button held below 100 % back to 100 %."""
        self.boost_presses.append(now)
        restored = [i for i in sorted(self.boost_button) if self.level(i, now) < FULL_LEVEL]
        for index in restored:
            self.off_until.pop(index, None)
            self.states.pop(index, None)
            self.limits.pop(index, None)
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
