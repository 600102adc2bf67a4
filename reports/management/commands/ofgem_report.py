"""Generates here, or with ``--queue`` through the Reports page's export job on a worker."""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from core.roles import EXPORT_REPORTS
from reports.periods import PeriodError, period_parse
from reports.selectors import ReportUnavailable
from reports.services import (
    DEFAULT_TOP_N,
    MAX_TOP_N,
    export_path,
    report_command_audit,
    report_export_get,
    report_export_request,
    report_generate,
)
from reports.writers import FORMATS


class Command(BaseCommand):
    help = "Write an Ofgem curtailment report (CSV zip, XLSX or JSON) for a period on the Europe/London calendar."

    def add_arguments(self, parser) -> None:
        period = parser.add_argument_group("period (give one)")
        period.add_argument("--start", help="first day, YYYY-MM-DD (with --end)")
        period.add_argument("--end", help="last day, YYYY-MM-DD, inclusive")
        period.add_argument("--regulatory-year", help="e.g. 2026 = 1 April 2026 to 31 March 2027")
        period.add_argument("--quarter", help="e.g. 2026-Q1 = April-June 2026")
        period.add_argument("--month", help="e.g. 2026-10")
        parser.add_argument("--format", required=True, choices=FORMATS)
        parser.add_argument("--output", required=True, help="file to write (replaced when complete)")
        parser.add_argument("--top", type=int, default=DEFAULT_TOP_N, help="rows in the worst-served tables")
        parser.add_argument("--user", help="username recorded in the audit trail (required with --queue)")
        parser.add_argument("--queue", action="store_true", help="generate on a Celery worker and follow it")
        parser.add_argument("--timeout", type=float, default=3600, help="seconds to wait for the worker (--queue)")

    def handle(self, *args, **options) -> None:
        try:
            period = period_parse(
                start=options["start"],
                end=options["end"],
                regulatory_year=options["regulatory_year"],
                quarter=options["quarter"],
                month=options["month"],
            )
        except PeriodError as exc:
            raise CommandError(str(exc)) from None
        if not 1 <= options["top"] <= MAX_TOP_N:
            raise CommandError(f"--top must be between 1 and {MAX_TOP_N}")
        output = Path(options["output"])
        if not output.parent.exists():
            raise CommandError(f"directory {output.parent} does not exist")
        user = self._user(options["user"], required=options["queue"])
        self.stderr.write(f"Ofgem report: {period.label} ({period.first_day} to {period.last_day}, Europe/London)")
        if options["queue"]:
            self._via_worker(period=period, fmt=options["format"], output=output, user=user, options=options)
        else:
            self._in_process(period=period, fmt=options["format"], output=output, user=user, top_n=options["top"])
        self.stdout.write(str(output))

    def _user(self, username: str | None, *, required: bool):
        if not username:
            if required:
                raise CommandError("--queue needs --user (the export belongs to a user)")
            return None
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"no user {username!r}")
        if not user.has_perm(EXPORT_REPORTS):
            raise CommandError(f"user {username!r} lacks {EXPORT_REPORTS}")
        return user

    def _progress(self, fraction: float, stage: str) -> None:
        self.stderr.write(f"  {fraction * 100:5.1f}%  {stage}")
        if hasattr(sys.stderr, "flush"):
            sys.stderr.flush()

    def _in_process(self, *, period, fmt: str, output: Path, user, top_n: int) -> None:
        partial = output.with_name(output.name + ".part")
        try:
            result = report_generate(period=period, fmt=fmt, path=partial, top_n=top_n, on_progress=self._progress)
        except ReportUnavailable as exc:
            partial.unlink(missing_ok=True)
            raise CommandError(str(exc)) from None
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        os.replace(partial, output)
        report_command_audit(period=period, fmt=fmt, path=output, result=result, user=user)
        summary = result.summary
        self.stderr.write(
            f"  {summary['events']} events, {summary['mpans_affected']} MPANs, "
            f"{summary['charger_minutes']} charger-minutes, {summary['limit_breaches']} limit breaches"
        )

    def _via_worker(self, *, period, fmt: str, output: Path, user, options) -> None:
        with transaction.atomic():
            job = report_export_request(user=user, period=period, fmt=fmt, top_n=options["top"])
        self.stderr.write(f"  queued export {job['id']}")
        deadline = time.monotonic() + options["timeout"]
        last = None
        while time.monotonic() < deadline:
            job = report_export_get(export_id=job["id"])
            if job is None:
                raise CommandError("the export job vanished (cache lost?); run again")
            if (job["progress"], job["stage"]) != last:
                last = (job["progress"], job["stage"])
                self._progress(job["progress"], job["stage"])
            if job["state"] == "done":
                shutil.copyfile(export_path(job), output)
                return
            if job["state"] == "failed":
                raise CommandError(f"export failed: {job['error']}")
            time.sleep(0.5)
        raise CommandError(f"no result within {options['timeout']} s: is a Celery worker running?")
