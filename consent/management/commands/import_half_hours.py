from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from consent.profiles import halfhour_csv_readings, halfhour_ingest


class Command(BaseCommand):
    help = (
        "Load half-hourly import/export kWh per MPAN from a CSV (header mpan,period_start,kwh; period_start "
        "ISO 8601 with offset). All or nothing; a half hour already stored is updated, never duplicated."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", type=Path)

    def handle(self, *args, file: Path, **options) -> None:
        if not file.is_file():
            raise CommandError(f"{file}: no such file")
        with file.open("rb") as raw:
            try:
                result = halfhour_ingest(readings=halfhour_csv_readings(raw))
            except (ValueError, UnicodeDecodeError) as exc:
                raise CommandError(f"{file.name}: {exc}") from None
        if not result.ok:
            for error in result.errors[:1000]:
                # index 0 is the first data row, which is line 2 of the file
                self.stderr.write(f"row {error['index'] + 2} {error['field']}: {error['reason']}")
            raise CommandError(f"{len(result.errors)} error(s) in {file.name}: nothing was stored")
        self.stdout.write(
            f"{result.received} readings: {result.created} created, {result.updated} updated, "
            f"{result.unchanged} unchanged"
        )
