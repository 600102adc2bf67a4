"""EUI-64 identifiers, DUIS RequestIDs (``originator:target:counter``) and argument validation.
Counters must strictly increase per originator (DCC anti-replay), so they come from the database,
not from here."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import DccArgumentError

_EUI64_HYPHENATED = re.compile(r"^[0-9A-Fa-f]{2}(?:-[0-9A-Fa-f]{2}){7}$")
_EUI64_COMPACT = re.compile(r"^[0-9A-Fa-f]{16}$")

# DUIS RequestIDType allows counters up to 2**64 - 1 (xs:unsignedLong range in the pattern).
MAX_COUNTER = 2**64 - 1
HCALCS_INDEXES = range(1, 6)  # sr:range_1_5
MAX_DURATION_MINUTES = 65535  # xs:unsignedShort
AUXILIARY_CONTROLLER_LEVELS = range(0, 101)  # sr:AuxiliaryControllerLevel, % of maximum flow

# The DCC's own EUI-64, the "target" of non-device service requests such as 8.13.
DCC_EUI64 = "90-B3-D5-1F-30-00-00-02"


def parse_eui64(value: object, *, argument: str = "eui64") -> str:
    """``value`` (DUIS hyphenated or 16 hex digits) as eight upper-case hyphen-separated hex pairs."""
    if not isinstance(value, str):
        raise DccArgumentError(argument, f"must be an EUI-64 string, got {type(value).__name__}")
    text = value.strip()
    if _EUI64_COMPACT.match(text):
        text = "-".join(text[i : i + 2] for i in range(0, 16, 2))
    if not _EUI64_HYPHENATED.match(text):
        raise DccArgumentError(argument, f"must be an EUI-64 like 00-DB-12-34-56-78-90-A0, got {value!r}")
    return text.upper()


def validate_index(index: object, *, argument: str = "index") -> int:
    """HCALCS switch index 1..5 (DUIS ``range_1_5``)."""
    if isinstance(index, bool) or not isinstance(index, int) or index not in HCALCS_INDEXES:
        raise DccArgumentError(argument, f"must be 1..5, got {index!r}")
    return index


def validate_duration_minutes(duration: object, *, argument: str = "duration_minutes") -> int:
    """7.6 Duration in minutes, 1..65535 (``xs:unsignedShort``; 0 would switch nothing off)."""
    if isinstance(duration, bool) or not isinstance(duration, int) or not 1 <= duration <= MAX_DURATION_MINUTES:
        raise DccArgumentError(argument, f"must be 1..{MAX_DURATION_MINUTES} minutes, got {duration!r}")
    return duration


def validate_level(level: object, *, argument: str = "level") -> int:
    """7.13 / 7.16 ``CommandedStateLevel``: 0..100 % of the controller's maximum flow."""
    if isinstance(level, bool) or not isinstance(level, int) or level not in AUXILIARY_CONTROLLER_LEVELS:
        raise DccArgumentError(argument, f"must be a whole percent 0..100, got {level!r}")
    return level


def validate_counter(counter: object, *, argument: str = "counter") -> int:
    if isinstance(counter, bool) or not isinstance(counter, int) or not 0 <= counter <= MAX_COUNTER:
        raise DccArgumentError(argument, f"must be an integer 0..2**64-1, got {counter!r}")
    return counter


@dataclass(frozen=True, order=True)
class RequestId:
    """A DUIS RequestID; ``str()`` gives the wire form."""

    originator: str
    target: str
    counter: int

    @classmethod
    def build(cls, *, originator: str, target: str, counter: int) -> RequestId:
        """Validate and normalise each part (errors name ``originator``/``target``/``counter``)."""
        return cls(
            originator=parse_eui64(originator, argument="originator"),
            target=parse_eui64(target, argument="target"),
            counter=validate_counter(counter),
        )

    @classmethod
    def parse(cls, text: object, *, argument: str = "request_id") -> RequestId:
        if not isinstance(text, str):
            raise DccArgumentError(argument, f"must be a string, got {type(text).__name__}")
        parts = text.strip().split(":")
        if len(parts) != 3 or not parts[2].isdigit():
            raise DccArgumentError(argument, f"must be originator:target:counter, got {text!r}")
        return cls(
            originator=parse_eui64(parts[0], argument=f"{argument}.originator"),
            target=parse_eui64(parts[1], argument=f"{argument}.target"),
            counter=validate_counter(int(parts[2]), argument=f"{argument}.counter"),
        )

    def response_id(self) -> str:
        """The ResponseID the DCC uses for this request: target : originator : counter."""
        return f"{self.target}:{self.originator}:{self.counter}"

    def __str__(self) -> str:
        return f"{self.originator}:{self.target}:{self.counter}"
