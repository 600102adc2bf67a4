"""One guard against CSV formula injection: free text (feeder codes, reasons) can carry a
formula into an analyst's spreadsheet. Leading tabs and carriage returns and the full-width
forms East Asian Excel reads are guarded too; a guarded cell gets a leading apostrophe (OWASP)."""

from __future__ import annotations

from typing import Any

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def csv_row(values) -> list:
    return [csv_cell(value) for value in values]
