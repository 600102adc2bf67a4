"""The report streams: its peak memory does not grow with the number of actions.

A year of 200,000 actions (20,000 events) and a year of 40,000 actions (4,000 events) are
generated in child processes (both well past the 2,000-row fetch chunk, so the chunk is
full in both). Two measures of each child: the peak of Python allocations during the
generation (``tracemalloc``, precise enough to see a list of rows building up) must not grow
by more than a few MiB, and the kernel's peak RSS of the child's own address space (``VmHWM``) stays
under an absolute bound. The full 1,000,000-action year is in
``bench/bench_report.py`` (time and memory against a COPY baseline); this test keeps the
suite quick while still showing that memory is flat in the number of rows.
"""

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

from reports.synthetic import SyntheticHistory, synthetic_history_insert
from tests.processes import _database_url

ROOT = Path(__file__).resolve().parents[2]
# Growth allowed from 40,000 to 200,000 actions: far below what holding the rows would take
# (the 16,000 extra event rows alone are ~15 MiB as Python lists; the actions far more).
MAX_GROWTH_MIB = 2
MAX_PEAK_MIB = 250


CHILD = """
import os, sys, tracemalloc
from pathlib import Path
import django
django.setup()
from reports.periods import period_regulatory_year
from reports.services import report_generate
tracemalloc.start()
result = report_generate(period=period_regulatory_year(int(sys.argv[1])), fmt=sys.argv[2], path=Path(sys.argv[3]))
# VmHWM: the peak RSS of this program's own address space. (The rusage ru_maxrss a parent
# sees also counts the parent's pages inherited before exec, i.e. the test runner's size.)
hwm_kib = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(tracemalloc.get_traced_memory()[1], result.rows["events"], hwm_kib)
"""


def generate_in_child(*, year: int, fmt: str, output: Path) -> tuple[float, float, int]:
    """(peak traced Python MiB during generation, peak RSS MiB, event rows) of a child."""
    env = dict(os.environ, DATABASE_URL=_database_url(connection.settings_dict), DB_CONN_MAX_AGE="0")
    env["PYTHONPATH"] = str(ROOT)
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(year), fmt, str(output)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    stdout, stderr = proc.communicate()
    assert proc.returncode == 0, stderr.decode()
    traced, events, hwm_kib = stdout.decode().split()
    return int(traced) / 2**20, int(hwm_kib) / 1024, int(events)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_report_memory_does_not_grow_with_the_number_of_actions(tmp_path, fmt):
    small = SyntheticHistory(
        prefix="C",
        first_day=dt.date(2024, 4, 1),
        feeders=8,
        chargers_per_feeder=50,
        events_per_feeder=500,
        actions_per_event=10,
    )
    large = SyntheticHistory(
        prefix="D",
        first_day=dt.date(2025, 4, 1),
        feeders=40,
        chargers_per_feeder=50,
        events_per_feeder=500,
        actions_per_event=10,
    )
    synthetic_history_insert(small)
    synthetic_history_insert(large)
    assert (small.actions, large.actions, large.events) == (40_000, 200_000, 20_000)

    small_traced, small_rss, small_events = generate_in_child(year=2024, fmt=fmt, output=tmp_path / f"small.{fmt}")
    large_traced, large_rss, large_events = generate_in_child(year=2025, fmt=fmt, output=tmp_path / f"large.{fmt}")

    assert (small_events, large_events) == (small.events, large.events)
    assert large_traced - small_traced < MAX_GROWTH_MIB, (small_traced, large_traced)
    assert large_rss < MAX_PEAK_MIB, (small_rss, large_rss)
