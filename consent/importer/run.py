from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from django.core.exceptions import ValidationError
from django.db import DatabaseError, IntegrityError, reset_queries, transaction
from django.db.models import ProtectedError

from consent.dialect import premises_import_lock
from consent.importer.reading import CountingReader, parsed_chunks
from consent.importer.report import ImportReport
from consent.importer.validation import Consistency
from consent.importer.writer import Writer
from feeders.models import Feeder

Progress = Callable[[str, float], None]


def _no_progress(phase: str, fraction: float) -> None:
    return None


class _DryRunRollback(Exception):
    pass


def premises_import(
    *,
    open_file: Callable[[], BinaryIO],
    size: int | None = None,
    dry_run: bool = False,
    progress: Progress = _no_progress,
) -> ImportReport:
    """Validate, then write only if the whole file is valid. ``open_file`` is called once per pass."""
    report = ImportReport(dry_run=dry_run)
    feeder_ids = dict(Feeder.objects.values_list("code", "pk"))
    consistency = Consistency()
    with open_file() as raw_file:
        counter = CountingReader(raw_file)
        for chunk in parsed_chunks(counter, report, set(feeder_ids)):
            for row in chunk:
                consistency.check(row, report)
            if size:
                progress("validating", min(1.0, counter.bytes_read / size))
    del consistency
    if not report.ok:
        progress("failed", 1.0)
        return report
    try:
        with transaction.atomic():
            _lock_import()
            writer = Writer(report, feeder_ids)
            written_rows = 0
            with open_file() as raw_file:
                for chunk in parsed_chunks(CountingReader(raw_file), ImportReport(), set(feeder_ids)):
                    writer.write(chunk)
                    written_rows += len(chunk)
                    reset_queries()  # DEBUG keeps every query; a big file must not keep them all
                    progress("writing", written_rows / max(1, report.rows))
            if dry_run:
                raise _DryRunRollback
    except _DryRunRollback:
        progress("done", 1.0)
        return report
    except (IntegrityError, ProtectedError, ValidationError, DatabaseError) as exc:
        report.add_error(0, "", f"the database refused the import, nothing was written: {_reason(exc)}")
        progress("failed", 1.0)
        return report
    report.written = True
    progress("done", 1.0)
    return report


def _reason(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(exc.messages)
    if isinstance(exc, ProtectedError):
        return "a device or MPAN the file would replace has curtailment history"
    return str(exc).splitlines()[0]


def _lock_import() -> None:
    """One import at a time: two concurrent upserts of the same keys would race."""
    premises_import_lock()


def premises_import_path(*, path: Path, dry_run: bool = False, progress: Progress = _no_progress) -> ImportReport:
    return premises_import(
        open_file=lambda: open(path, "rb"),  # closed by premises_import
        size=path.stat().st_size,
        dry_run=dry_run,
        progress=progress,
    )
