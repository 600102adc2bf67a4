"""Premises register import: rows per second and peak memory, against raw COPY.

    .venv/bin/python scripts/with_services.py -- .venv/bin/python bench/bench_import.py [--premises 50000]

Builds a register of ``--premises`` premises with two HCALCS each (so 2 x premises rows),
then measures in the same run on the throwaway PostgreSQL:

* **import**: ``premises_import_path`` (validate pass + upsert pass, all-or-nothing, one
  transaction) into empty tables;
* **re-import** of the same file (validation + reading back, nothing written);
* **baseline**: PostgreSQL ``COPY`` of the same CSV into an unlogged staging table with one
  text column per CSV column: the floor for getting these bytes into the database.

Prints rows/s for each, the ratios import/COPY and re-import/COPY, and the peak RSS growth
of this process during the import (``resource.getrusage``).
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import machine

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dnoctl.settings")


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--premises", type=int, default=50_000)
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL"):
        print("needs DATABASE_URL (run through scripts/with_services.py)", file=sys.stderr)
        return 2

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from consent.importer import COLUMNS, premises_import_path
    from consent.models import HCALCS
    from tests.consent.registers import register_rows, register_write

    call_command("migrate", interactive=False, verbosity=0)
    with tempfile.TemporaryDirectory() as tmp:
        path = register_write(Path(tmp) / "register.csv", register_rows(args.premises, hcalcs_per_meter=2))
        rows = args.premises * 2
        size_mib = path.stat().st_size / 2**20

        rss_before = rss_mib()
        started = time.perf_counter()
        report = premises_import_path(path=path)
        import_s = time.perf_counter() - started
        rss_growth = rss_mib() - rss_before
        assert report.ok and report.hcalcs.created == rows, report.errors[:5]

        started = time.perf_counter()
        again = premises_import_path(path=path)
        reimport_s = time.perf_counter() - started
        assert again.ok and again.hcalcs.unchanged == rows

        columns = ", ".join(f"{name} text" for name in COLUMNS)
        with connection.cursor() as cursor:
            cursor.execute(f"CREATE UNLOGGED TABLE bench_register_copy ({columns})")
            started = time.perf_counter()
            with (
                path.open("rb") as handle,
                cursor.copy("COPY bench_register_copy FROM STDIN WITH (FORMAT csv, HEADER true)") as copy,
            ):
                while data := handle.read(1 << 20):
                    copy.write(data)
            copy_s = time.perf_counter() - started
            cursor.execute("DROP TABLE bench_register_copy")
        assert HCALCS.objects.count() == rows

    print(f"machine: {machine()}")
    print(f"file: {rows} rows, {size_mib:.1f} MiB ({args.premises} premises, 2 HCALCS each)")
    print(f"import:    {rows / import_s:10.0f} rows/s ({import_s:.1f} s), peak RSS growth {rss_growth:.0f} MiB")
    print(f"re-import: {rows / reimport_s:10.0f} rows/s ({reimport_s:.1f} s), nothing written")
    print(f"COPY:      {rows / copy_s:10.0f} rows/s ({copy_s:.2f} s) baseline")
    print(f"ratio import/COPY = {copy_s / import_s:.3f}; re-import/COPY = {copy_s / reimport_s:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
