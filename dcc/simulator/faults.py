"""Failure injection for the DCC simulator."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any


@dataclass
class FaultConfig:
    """Failure injection. Probabilities are 0..1; ``http_503`` counts the next N requests."""

    drop: float = 0.0  # device response lost on its way to the callback (device still acted)
    duplicate: float = 0.0  # device response delivered twice
    reorder: bool = False  # each response waits for the next one, which overtakes it
    delay_s: float = 0.0  # extra latency on every device response
    http_503: int = 0  # next N DUIS POSTs answered 503 without being processed
    force_code: str | None = None  # answer every eligible request with this E-code
    force_code_srv: str | None = None  # ... only for this SRV when set
    # CV 4 returns a pre-command for a minute longer than asked (a 7.6's duration, a 7.13 or
    # 7.16's period; a DCC gone wrong): the user must refuse to sign it.
    stretch_pre_command: bool = False
    # Requests with this command variant wait ``hold_s`` before the DCC looks at them (a
    # slow DCC; fault tests kill a worker "right after CV 4", while its CV 5 is held).
    hold_cv: int | None = None
    hold_s: float = 0.0

    def update(self, data: dict[str, Any]) -> None:
        names = {f.name for f in fields(self)}
        for key, value in data.items():
            if key not in names:
                raise ValueError(f"{key}: unknown fault flag")
            setattr(self, key, value)
