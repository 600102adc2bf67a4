"""Report files and export jobs. A job lives in the cache; its file is written as ``<id>.part``
and renamed when complete, so a download never sees half a report. Every export is audited."""

from __future__ import annotations

import datetime as dt
import logging
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from core.audit import audit_record
from dnoctl.queueing import task_send_on_commit
from reports import selectors
from reports.breaches import breach_rows
from reports.columns import (
    BREACHES,
    DURATION_BUCKETS,
    EVENTS,
    MANAGED_MONTHS,
    NF10_FEEDERS,
    SUMMARY,
    WORST_BY_LONGEST,
    WORST_BY_TOTAL,
)
from reports.periods import ReportPeriod, period_parse
from reports.writers import EXTENSIONS, FORMATS, XlsxWriter, summary_as_rows, writer_open

logger = logging.getLogger(__name__)

DEFAULT_TOP_N = 20
MAX_TOP_N = 1000
EXPORT_TTL_S = 24 * 3600
# Progress is written at most every this many event rows (a cache round trip each).
PROGRESS_EVERY_ROWS = 5000

ProgressCallback = Callable[[float, str], None]


def reports_dir() -> Path:
    path = Path(getattr(settings, "DNOCTL_REPORTS_DIR", settings.BASE_DIR / "var" / "reports"))
    path.mkdir(parents=True, exist_ok=True)
    return path


@dataclass(frozen=True)
class ReportResult:
    summary: dict
    rows: dict[str, int]


def _noop_progress(fraction: float, stage: str) -> None:
    return None


def report_generate(
    *,
    period: ReportPeriod,
    fmt: str,
    path: Path,
    top_n: int = DEFAULT_TOP_N,
    on_progress: ProgressCallback | None = None,
    generated_at: dt.datetime | None = None,
) -> ReportResult:
    """One transaction, so every table comes from the same snapshot; rows stream from server-
    side cursors into the writer, so memory stays flat."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    if not 1 <= top_n <= MAX_TOP_N:
        raise ValueError(f"top_n must be between 1 and {MAX_TOP_N}, got {top_n}")
    progress = on_progress or _noop_progress
    generated_at = generated_at or timezone.now()
    rows: dict[str, int] = {}
    progress(0.0, "selecting events")
    with transaction.atomic(), selectors.report_snapshot(period=period, now=generated_at) as snapshot:
        progress(0.2, "checking usage limits")
        breaches = breach_rows(snapshot)
        progress(0.3, "summarising")
        summary = selectors.summary(snapshot, generated_at=generated_at, breaches=len(breaches))
        buckets = selectors.duration_bucket_rows(snapshot)
        months = selectors.managed_month_rows(snapshot)
        writer = writer_open(fmt, path)
        try:
            if isinstance(writer, XlsxWriter):
                writer.summary_tables(buckets=buckets, months=months)
            if hasattr(writer, "start"):
                writer.start(period=period.as_dict(), summary=summary)
            rows[SUMMARY.name] = writer.table(SUMMARY, summary_as_rows(summary))
            rows[DURATION_BUCKETS.name] = writer.table(DURATION_BUCKETS, buckets)
            rows[MANAGED_MONTHS.name] = writer.table(MANAGED_MONTHS, months)
            rows[NF10_FEEDERS.name] = writer.table(NF10_FEEDERS, selectors.nf10_feeder_rows(snapshot))
            progress(0.4, "writing events")
            total_events = max(summary["events"], 1)

            def events_with_progress():
                for done, row in enumerate(selectors.event_rows(snapshot), start=1):
                    if done % PROGRESS_EVERY_ROWS == 0:
                        progress(0.4 + 0.5 * done / total_events, f"writing events ({done} of {total_events})")
                    yield row

            rows[EVENTS.name] = writer.table(EVENTS, events_with_progress())
            progress(0.9, "ranking worst-served customers")
            rows[WORST_BY_TOTAL.name] = writer.table(
                WORST_BY_TOTAL, selectors.worst_by_total_rows(snapshot, top_n=top_n)
            )
            rows[WORST_BY_LONGEST.name] = writer.table(
                WORST_BY_LONGEST, selectors.worst_by_longest_rows(snapshot, top_n=top_n)
            )
            rows[BREACHES.name] = writer.table(BREACHES, breaches)
        finally:
            writer.close()
    progress(1.0, "done")
    return ReportResult(summary=summary, rows=rows)


def report_overview(*, period: ReportPeriod, top_n: int = 10) -> dict:
    """What the Reports page shows, from one snapshot."""
    now = timezone.now()
    with transaction.atomic(), selectors.report_snapshot(period=period, now=now) as snapshot:
        breaches = breach_rows(snapshot)
        return {
            "period": period.as_dict(),
            "summary": selectors.summary(snapshot, generated_at=now, breaches=len(breaches)),
            "ongoing_events": selectors.ongoing_event_rows(snapshot),
            "duration_buckets": selectors.duration_bucket_rows(snapshot),
            "managed_months": selectors.managed_month_rows(snapshot),
            "worst_by_total": selectors.worst_by_total_rows(snapshot, top_n=top_n),
            "worst_by_longest": selectors.worst_by_longest_rows(snapshot, top_n=top_n),
            "breaches": breaches,
        }


# --- export jobs ------------------------------------------------------------------------------


def _export_key(export_id: str) -> str:
    return f"reports:export:{export_id}"


def report_export_get(*, export_id: str) -> dict | None:
    """The job record, or None when unknown (or expired)."""
    if not export_id or not all(c in "0123456789abcdef" for c in export_id) or len(export_id) != 32:
        return None
    return cache.get(_export_key(export_id))


def _export_save(job: dict) -> None:
    cache.set(_export_key(job["id"]), job, EXPORT_TTL_S)


def export_filename(*, period: ReportPeriod, fmt: str) -> str:
    return f"ofgem-curtailment-{period.first_day.isoformat()}-to-{period.last_day.isoformat()}.{EXTENSIONS[fmt]}"


def report_export_request(*, user, period: ReportPeriod, fmt: str, top_n: int = DEFAULT_TOP_N) -> dict:
    """Record an export job, audit it and queue its generation after commit."""
    from reports.tasks import report_export_task

    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    if not 1 <= top_n <= MAX_TOP_N:
        raise ValueError(f"top_n must be between 1 and {MAX_TOP_N}, got {top_n}")
    export_id = uuid.uuid4().hex
    job = {
        "id": export_id,
        "user_id": user.pk,
        "username": user.get_username(),
        "period": period.as_dict(),
        "format": fmt,
        "top_n": top_n,
        "state": "queued",
        "progress": 0.0,
        "stage": "queued",
        "filename": export_filename(period=period, fmt=fmt),
        "error": "",
        "requested_at": timezone.now().isoformat(),
        "finished_at": None,
        "rows": {},
    }
    _export_save(job)
    audit_record(
        action="report.export_requested",
        actor_user=user,
        reason=f"Ofgem report {period.label} as {fmt}",
        inputs={"export_id": export_id, "period": period.as_dict(), "format": fmt, "top_n": top_n},
    )
    task_send_on_commit(report_export_task, (export_id,))
    return job


def export_path(job: dict) -> Path:
    return reports_dir() / f"{job['id']}.{EXTENSIONS[job['format']]}"


def report_export_run(*, export_id: str) -> dict | None:
    """Idempotent: a job already running or done is left alone, so a redelivered message does nothing."""
    job = report_export_get(export_id=export_id)
    if job is None:
        logger.warning("report export %s is unknown or expired", export_id)
        return None
    # cache.add is atomic: only one worker wins the right to run this job.
    if job["state"] != "queued" or not cache.add(_export_key(export_id) + ":run", 1, EXPORT_TTL_S):
        return job
    period = period_parse(start=job["period"]["first_day"], end=job["period"]["last_day"])
    period = ReportPeriod(
        kind=job["period"]["kind"], first_day=period.first_day, last_day=period.last_day, label=job["period"]["label"]
    )
    job.update(state="running", stage="starting")
    _export_save(job)

    def progress(fraction: float, stage: str) -> None:
        job.update(progress=round(fraction, 3), stage=stage)
        _export_save(job)

    final = export_path(job)
    partial = final.with_suffix(".part")
    try:
        result = report_generate(
            period=period, fmt=job["format"], path=partial, top_n=job["top_n"], on_progress=progress
        )
        os.replace(partial, final)
    except Exception as exc:
        logger.exception("report export %s failed", export_id)
        partial.unlink(missing_ok=True)
        job.update(state="failed", error=str(exc) or type(exc).__name__, finished_at=timezone.now().isoformat())
        _export_save(job)
        audit_record(
            action="report.export_failed",
            rule="report-export",
            reason=str(exc)[:500],
            inputs={"export_id": export_id, "period": job["period"], "format": job["format"]},
        )
        return job
    job.update(
        state="done",
        progress=1.0,
        stage="done",
        rows=result.rows,
        size_bytes=final.stat().st_size,
        finished_at=timezone.now().isoformat(),
    )
    _export_save(job)
    audit_record(
        action="report.export_generated",
        rule="report-export",
        reason=f"Ofgem report {job['period']['label']} as {job['format']}",
        inputs={
            "export_id": export_id,
            "period": job["period"],
            "format": job["format"],
            "rows": result.rows,
            "mpans_affected": result.summary["mpans_affected"],
            "events": result.summary["events"],
        },
    )
    return job


def report_export_downloaded(*, user, job: dict) -> None:
    """Audited: the file may leave the building."""
    audit_record(
        action="report.export_downloaded",
        actor_user=user,
        reason=f"Downloaded {job['filename']}",
        inputs={"export_id": job["id"], "period": job["period"], "format": job["format"]},
    )


def report_command_audit(*, period: ReportPeriod, fmt: str, path: Path, result: ReportResult, user=None) -> None:
    """Audit a report written by ``manage.py ofgem_report``."""
    audit_record(
        action="report.export_generated",
        actor_user=user,
        rule=None if user is not None else "command:ofgem_report",
        reason=f"Ofgem report {period.label} as {fmt} to {path}",
        inputs={"period": period.as_dict(), "format": fmt, "rows": result.rows, "path": str(path)},
    )
