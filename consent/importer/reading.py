"""Streaming the file in chunks, never loaded whole; the header checked against ``COLUMNS``."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import BinaryIO

from consent.importer.columns import COLUMNS, REQUIRED_COLUMNS
from consent.importer.report import ImportReport
from consent.importer.rows import ParsedRow, parse_row

CHUNK_ROWS = 2000


class CountingReader(io.RawIOBase):
    """Counts bytes read, for the first pass's progress bar."""

    def __init__(self, raw: BinaryIO) -> None:
        self.raw, self.bytes_read = raw, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self.raw.read(len(buffer))
        buffer[: len(data)] = data
        self.bytes_read += len(data)
        return len(data)


def _rows(raw: BinaryIO, report: ImportReport) -> Iterator[tuple[int, dict[str, str]]]:
    text = io.TextIOWrapper(io.BufferedReader(raw), encoding="utf-8-sig", newline="")
    reader = csv.DictReader(text)
    try:
        header = [name.strip() for name in reader.fieldnames or []]
    except UnicodeDecodeError:
        report.add_error(1, "", "the file is not UTF-8 text")
        return
    reader.fieldnames = header
    missing = [name for name in REQUIRED_COLUMNS if name not in header]
    unknown = [name for name in header if name not in COLUMNS]
    for name in missing:
        report.add_error(1, name, "required column missing from the header")
    for name in unknown:
        report.add_error(1, name, "unknown column (see docs/premises-import.md)")
    if missing or unknown:
        return
    try:
        for raw_row in reader:
            line = reader.line_num
            if None in raw_row:
                report.add_error(line, "", f"{len(header) + len(raw_row[None])} cells, the header has {len(header)}")
                continue
            if not any((value or "").strip() for value in raw_row.values()):
                continue  # a blank line
            report.rows += 1
            yield line, raw_row
    except (csv.Error, UnicodeDecodeError) as exc:
        report.add_error(reader.line_num + 1, "", f"unreadable CSV: {exc}")


def parsed_chunks(raw: BinaryIO, report: ImportReport, feeder_codes: set[str]) -> Iterator[list[ParsedRow]]:
    chunk: list[ParsedRow] = []
    for line, raw_row in _rows(raw, report):
        parsed = parse_row(raw_row, line, report, feeder_codes)
        if parsed is not None:
            chunk.append(parsed)
        if len(chunk) >= CHUNK_ROWS:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
