from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from consent.importer import premises_import_audit, premises_import_path


class Command(BaseCommand):
    help = (
        "Import the premises register (premises, meters, MPANs, HCALCS) from a CSV file. "
        "All or nothing: any bad row and nothing is written. Columns: docs/premises-import.md."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", type=Path, help="the CSV file (UTF-8, header row first)")
        parser.add_argument("--dry-run", action="store_true", help="validate and count, write nothing")

    def handle(self, *args, file: Path, dry_run: bool, **options) -> None:
        if not file.is_file():
            raise CommandError(f"{file}: no such file")
        report = premises_import_path(path=file, dry_run=dry_run)
        premises_import_audit(report=report, source=file.name, user=None)
        if not report.ok:
            for error in report.errors:
                column = f" {error.column}" if error.column else ""
                self.stderr.write(f"row {error.row}{column}: {error.reason}")
            shown = len(report.errors)
            more = f" ({report.error_count - shown} more not listed)" if report.error_count > shown else ""
            raise CommandError(f"{report.error_count} error(s) in {file.name}{more}: nothing was written")
        verb = "would be" if dry_run else "were"
        self.stdout.write(f"{report.rows} rows read; {'dry run, nothing written' if dry_run else 'written'}")
        for name in ("premises", "meters", "mpans", "hcalcs"):
            counts = getattr(report, name)
            self.stdout.write(
                f"{name}: {counts.created} {verb} created, {counts.updated} updated, {counts.unchanged} unchanged"
            )
