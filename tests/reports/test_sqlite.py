"""The embedded demo runs on SQLite: the same report SQL gives the same report there.

A child process in embedded mode (no DATABASE_URL: SQLite in a temporary file) migrates,
builds ``known_history`` and writes the JSON report for June 2026; this process builds the
same history in PostgreSQL. Everything but ids, codes and the generation time must match.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

from reports.periods import period_month
from reports.services import report_generate
from tests.reports.factories import KNOWN_HISTORY_NOW, known_history

ROOT = Path(__file__).resolve().parents[2]

CHILD = """
import sys
from pathlib import Path
import django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from reports.periods import period_month
from reports.services import report_generate
from tests.reports.factories import KNOWN_HISTORY_NOW, known_history
known_history()
report_generate(period=period_month(2026, 6), fmt="json", path=Path(sys.argv[1]), generated_at=KNOWN_HISTORY_NOW)
"""

# Identifiers that differ between two databases built separately (the generation time is
# the same fixed moment in both).
VOLATILE = {"event_id", "longest_event_id", "feeder", "substation", "mpan", "hcalcs"}


def comparable(report: dict) -> dict:
    def strip(row: dict) -> dict:
        return {key: value for key, value in row.items() if key not in VOLATILE}

    return {
        "period": report["period"],
        "summary": strip(report["summary"]),
        "tables": {name: [strip(row) for row in rows] for name, rows in report["tables"].items()},
    }


def test_sqlite_report_equals_the_postgresql_report(db, tmp_path):
    env = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "REDIS_URL")}
    env.update(DNOCTL_SQLITE_PATH=str(tmp_path / "embedded.sqlite3"), PYTHONPATH=str(ROOT))
    child = subprocess.run(
        [sys.executable, "-c", CHILD, str(tmp_path / "sqlite.json")], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert child.returncode == 0, child.stderr[-3000:]
    known_history()
    report_generate(
        period=period_month(2026, 6), fmt="json", path=tmp_path / "postgresql.json", generated_at=KNOWN_HISTORY_NOW
    )

    sqlite = json.loads((tmp_path / "sqlite.json").read_text())
    postgresql = json.loads((tmp_path / "postgresql.json").read_text())

    assert comparable(sqlite) == comparable(postgresql)
    assert postgresql["summary"]["mpans_affected"] == 3
    assert postgresql["summary"]["limit_breaches"] == 1
    assert len(postgresql["tables"]["events"]) == 5
    # The running event counts its 7 minutes so far, flagged, on both databases.
    assert postgresql["summary"]["events_ongoing"] == 1
    running = [row for row in postgresql["tables"]["events"] if row["ongoing"]]
    assert [(row["duration_minutes"], row["charger_minutes"]) for row in running] == [(7.0, 6.5)]
