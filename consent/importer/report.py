from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

MAX_ERRORS_KEPT = 10_000  # every error is counted; the first 10,000 are listed


@dataclass(frozen=True)
class RowError:
    row: int  # the file's line number as a spreadsheet shows it (header = 1)
    column: str
    reason: str


@dataclass
class Counts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0


@dataclass
class ImportReport:
    """What an import found and did."""

    rows: int = 0
    errors: list[RowError] = field(default_factory=list)
    error_count: int = 0
    written: bool = False
    dry_run: bool = False
    premises: Counts = field(default_factory=Counts)
    meters: Counts = field(default_factory=Counts)
    mpans: Counts = field(default_factory=Counts)
    hcalcs: Counts = field(default_factory=Counts)

    def add_error(self, row: int, column: str, reason: str) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_ERRORS_KEPT:
            self.errors.append(RowError(row, column, reason))

    @property
    def ok(self) -> bool:
        return self.error_count == 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "ok": self.ok,
            "written": self.written,
            "dry_run": self.dry_run,
            "error_count": self.error_count,
            "errors": [{"row": e.row, "column": e.column, "reason": e.reason} for e in self.errors],
            "counts": {name: vars(getattr(self, name)).copy() for name in ("premises", "meters", "mpans", "hcalcs")},
        }
