"""What every parsed GBCS message has (its frame and grouping header), and a response's
outcome worked out from its DLMS results."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from .codes import Cra
from .dlms import AccessKind, AccessResult
from .errors import GbcsFormatError
from .frames import Frame, GroupingHeader


@dataclass(frozen=True)
class GbcsMessage:
    """A parsed message; the use-case classes add their meaningful fields."""

    frame: Frame

    @property
    def header(self) -> GroupingHeader:
        return self.frame.header

    @property
    def cra(self) -> Cra:
        return self.frame.header.cra

    @property
    def originator(self) -> str:
        return self.frame.header.originator

    @property
    def recipient(self) -> str:
        return self.frame.header.recipient

    @property
    def counter(self) -> int:
        return self.frame.header.counter

    @property
    def date_time(self) -> datetime | None:
        return self.frame.header.date_time

    @property
    def message_code(self) -> int:
        return self.frame.header.message_code

    @property
    def use_case(self) -> str:
        return self.frame.header.use_case

    @property
    def raw(self) -> bytes:
        return self.frame.raw


@dataclass(frozen=True)
class Failure:
    """One request the device did not carry out."""

    position: int  # 0-based, in the command's order
    label: str  # what that request was for, e.g. "switch 3 duration"
    result: AccessResult


@dataclass(frozen=True)
class Outcome:
    """Success, or the failed requests with their DLMS result and a readable reason."""

    success: bool
    reason: str
    failures: tuple[Failure, ...] = ()

    @property
    def error_code(self) -> int | None:
        """The first failure's DLMS result code (None on success)."""
        return self.failures[0].result.code if self.failures else None


def outcome_from(results: Sequence[AccessResult], labels: Sequence[str]) -> Outcome:
    failures = tuple(
        Failure(position, label, result)
        for position, (result, label) in enumerate(zip(results, labels, strict=True))
        if not result.ok
    )
    if not failures:
        return Outcome(success=True, reason="success")
    reason = "; ".join(f"{f.label}: {f.result.name} ({f.result.code})" for f in failures)
    return Outcome(success=False, reason=reason, failures=failures)


def results_check(frame: Frame, results: Sequence[AccessResult], kinds: Sequence[AccessKind], use_case: str) -> None:
    """A response must answer each request of its command, in order, with the same kind."""
    found = [result.kind for result in results]
    if found != list(kinds):
        raise GbcsFormatError(
            f"{use_case} results",
            frame.payload_start,
            f"are {[k.name.lower() for k in found]}, expected {[k.name.lower() for k in kinds]}",
        )


def results_build(kinds: Sequence[AccessKind], codes: Sequence[int] | None) -> tuple[AccessResult, ...]:
    if codes is None:
        codes = [0] * len(kinds)
    if len(codes) != len(kinds):
        raise ValueError(f"{len(kinds)} result codes needed, got {len(codes)}")
    if any(not 0 <= code <= 255 for code in codes):
        raise ValueError("a DLMS result code is 0..255")
    # GET_WITH_SELECTION is answered as a GET.
    return tuple(
        AccessResult(AccessKind.GET if kind is AccessKind.GET_WITH_SELECTION else kind, code)
        for kind, code in zip(kinds, codes, strict=True)
    )
