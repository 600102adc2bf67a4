"""Report writers: a zip of CSVs, an XLSX workbook, a JSON document. Each writes rows as they
come (openpyxl's write-only mode for XLSX), so a report is never whole in memory."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections.abc import Iterable
from pathlib import Path

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.chart import BarChart, Reference

from dnoctl.csv_safety import csv_row
from reports.columns import DURATION_BUCKETS, MANAGED_MONTHS, SUMMARY, SUMMARY_METRICS, TABLES, Table

FORMATS = ("csv", "xlsx", "json")
EXTENSIONS = {"csv": "zip", "xlsx": "xlsx", "json": "json"}
CONTENT_TYPES = {
    "csv": "application/zip",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "json": "application/json",
}
JSON_FORMAT_NAME = "dnoctl-ofgem-curtailment-report"
# 2: events carry ``ongoing``; the summary ``events_ongoing`` and ``event_minutes_max_ongoing``.
JSON_FORMAT_VERSION = 2


def summary_as_rows(summary: dict) -> list[list]:
    return [[metric.name, summary[metric.name]] for metric in SUMMARY_METRICS]


def _xlsx_row(sheet, row: list) -> list:
    """openpyxl stores a string starting with ``=`` as a formula: force those to text."""
    if not any(isinstance(value, str) and value.startswith("=") for value in row):
        return row
    cells = []
    for value in row:
        cell = WriteOnlyCell(sheet, value=value)
        if isinstance(value, str) and value.startswith("="):
            cell.data_type = "s"
        cells.append(cell)
    return cells


def _csv_flags(row: list) -> list:
    return [("true" if value else "false") if isinstance(value, bool) else value for value in row]


class CsvZipWriter:
    """One ``<table>.csv`` per table in a zip (UTF-8, comma separated, header row)."""

    def __init__(self, path: Path) -> None:
        self._zip = zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED)

    def table(self, table: Table, rows: Iterable[list]) -> int:
        count = 0
        # force_zip64: the member's size is unknown while it streams and may pass 2 GiB.
        with self._zip.open(f"{table.name}.csv", "w", force_zip64=True) as raw:
            text = io.TextIOWrapper(raw, encoding="utf-8", newline="")
            writer = csv.writer(text)
            writer.writerow(table.header)
            for row in rows:
                # Feeder and substation codes are free text; a flag is written as JSON writes it.
                writer.writerow(csv_row(_csv_flags(row)))
                count += 1
            text.flush()
            text.detach()
        return count

    def close(self) -> None:
        self._zip.close()


class XlsxWriter:
    """A sheet per table; the summary sheet adds the duration buckets, managed months and a chart."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._book = Workbook(write_only=True)
        self._summary_extra: dict[str, list[list]] = {}

    def summary_tables(self, *, buckets: list[list], months: list[list]) -> None:
        """Give before ``table(SUMMARY)``."""
        self._summary_extra = {DURATION_BUCKETS.name: buckets, MANAGED_MONTHS.name: months}

    def table(self, table: Table, rows: Iterable[list]) -> int:
        sheet = self._book.create_sheet(title=table.title[:31])
        sheet.append(table.header)
        count = 0
        for row in rows:
            sheet.append(_xlsx_row(sheet, row))
            count += 1
        if table is SUMMARY and self._summary_extra:
            self._append_summary_extras(sheet, first_row=count + 2)
        return count

    def _append_summary_extras(self, sheet, *, first_row: int) -> None:
        # Rows so far: header + metrics; a blank row, then the buckets and months tables.
        buckets = self._summary_extra[DURATION_BUCKETS.name]
        months = self._summary_extra[MANAGED_MONTHS.name]
        sheet.append([])
        bucket_header_row = first_row + 1
        sheet.append([DURATION_BUCKETS.title, "events"])
        for bucket in buckets:
            sheet.append([bucket[0], bucket[3]])
        sheet.append([])
        sheet.append([MANAGED_MONTHS.title, "feeders_managed", "events"])
        for month in months:
            sheet.append(month)
        chart = BarChart()
        chart.title = "Events by minutes in the period"
        chart.y_axis.title = "events"
        chart.x_axis.title = "minutes"
        data = Reference(sheet, min_col=2, min_row=bucket_header_row, max_row=bucket_header_row + len(buckets))
        categories = Reference(
            sheet, min_col=1, min_row=bucket_header_row + 1, max_row=bucket_header_row + len(buckets)
        )
        chart.add_data(data, titles_from_data=True)
        chart.set_categories(categories)
        sheet.add_chart(chart, "D2")

    def close(self) -> None:
        self._book.save(self._path)


class JsonWriter:
    """Written row by row (see ``reports/schema.json``)."""

    def __init__(self, path: Path) -> None:
        self._file = open(path, "w", encoding="utf-8")  # noqa: SIM115 - closed in close()
        self._tables_open = False

    def start(self, *, period: dict, summary: dict) -> None:
        head = {"format": JSON_FORMAT_NAME, "version": JSON_FORMAT_VERSION, "period": period, "summary": summary}
        self._file.write(json.dumps(head)[:-1])
        self._file.write(', "tables": {')

    def table(self, table: Table, rows: Iterable[list]) -> int:
        if table is SUMMARY:
            return 0  # the summary is the top-level object, typed
        if self._tables_open:
            self._file.write(", ")
        self._tables_open = True
        self._file.write(json.dumps(table.name) + ": [")
        header = table.header
        count = 0
        for row in rows:
            if count:
                self._file.write(", ")
            self._file.write(json.dumps(dict(zip(header, row, strict=True))))
            count += 1
        self._file.write("]")
        return count

    def close(self) -> None:
        self._file.write("}}\n")
        self._file.close()


def writer_open(fmt: str, path: Path):
    if fmt == "csv":
        return CsvZipWriter(path)
    if fmt == "xlsx":
        return XlsxWriter(path)
    if fmt == "json":
        return JsonWriter(path)
    raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")


__all__ = ["CONTENT_TYPES", "EXTENSIONS", "FORMATS", "TABLES", "summary_as_rows", "writer_open"]
