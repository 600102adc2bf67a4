"""One guard against CSV formula injection, for every CSV the application writes.

A spreadsheet opening a CSV runs a cell that starts with ``=``, ``+``, ``-`` or ``@`` as a
formula, and Excel and LibreOffice skip a leading tab or carriage return before deciding
(``"\\t=HYPERLINK(...)"`` is a formula too). Feeder codes, usernames, audit reasons and
inputs are free text, so any of them can carry one into an analyst's spreadsheet.

Excel in East Asian locales also reads the full-width forms (U+FF1D, U+FF0B, U+FF0D,
U+FF20) as the ASCII ones, so they are guarded too. A guarded cell gets a leading
apostrophe, which the spreadsheet shows as text (OWASP's advice); numbers are written as
they are (a negative number is data, not a formula).
"""

from __future__ import annotations

from typing import Any

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def csv_cell(value: Any) -> Any:
    """``value`` ready for ``csv.writer``: None as an empty cell, a string that a
    spreadsheet would run as a formula prefixed with ``'``, anything else unchanged."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def csv_row(values) -> list:
    """:func:`csv_cell` applied to each value of a row."""
    return [csv_cell(value) for value in values]
