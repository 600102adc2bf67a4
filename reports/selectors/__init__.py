"""The report's reads: SQL aggregation, streamed through server-side cursors (PostgreSQL;
the same SQL runs on the embedded demo's SQLite through ``Dialect``).

``report_snapshot`` materialises, inside one transaction, the period's events and one pass
over their actions (narrow rows), then totals per event and per MPAN, into temporary
tables dropped at commit: every table of one report comes from the same rows, and
each further aggregate reads a small table instead of re-joining the history. Python only
ever holds one chunk of rows at a time.

The counting rules (documented in docs/ofgem-report.md):

* An event is in the period when ``[started_at, ended_at)`` overlaps ``[start_utc,
  end_utc)``; an event still open (ongoing) counts up to the report's "now", never its
  planned length, and is flagged as ongoing.
* A curtailment (action) covers ``[confirmed_at, ended_at)``, what the device did (the
  ledger); one still running counts up to "now" (or its planned end if that came first).
  Its minutes are clipped to the period. An action the device never confirmed, or whose
  command failed, switched nothing off and counts no minutes and no MPAN.
* The MPAN of an action is ``action.mpan``, else the ``import_primary`` MPAN of the meter
  that controls the HCALCS.
* An MPAN is affected by an event when it has a non-failed action with minutes inside the
  period; it is counted once per event and once in the summary.

The modules: ``sql`` (table names, the dialect, running a query), ``snapshot`` (the
temporary tables), then one per table of the report: ``per_event``, ``summary`` (with the
duration buckets), ``managed`` (managed feeders per month, NF10 dates), ``worst_served``.
"""

from reports.selectors.managed import (
    NF10_IMPLEMENTATION_MONTHS,
    NF10_MARKET_SOLUTION_MONTHS,
    managed_month_rows,
    nf10_feeder_rows,
)
from reports.selectors.per_event import event_rows, ongoing_event_rows
from reports.selectors.snapshot import (
    REPORT_WORK_MEM,
    TEMPORARY_TABLES,
    Snapshot,
    action_facts,
    report_snapshot,
)
from reports.selectors.sql import (
    ACTION_FAILED,
    ACTION_START,
    ACTIONS_TABLE,
    CHUNK_ROWS,
    EVENT_AGG_TABLE,
    EVENTS_TABLE,
    MPAN_AGG_TABLE,
    Dialect,
    ReportUnavailable,
    T,
    action_end,
    dialect,
    from_epoch,
    one_row,
    round_minutes,
    ts_param,
)
from reports.selectors.summary import duration_bucket_rows, summary
from reports.selectors.worst_served import worst_by_longest_rows, worst_by_total_rows

__all__ = [
    "ACTIONS_TABLE",
    "ACTION_FAILED",
    "ACTION_START",
    "CHUNK_ROWS",
    "EVENTS_TABLE",
    "EVENT_AGG_TABLE",
    "MPAN_AGG_TABLE",
    "NF10_IMPLEMENTATION_MONTHS",
    "NF10_MARKET_SOLUTION_MONTHS",
    "REPORT_WORK_MEM",
    "TEMPORARY_TABLES",
    "Dialect",
    "ReportUnavailable",
    "Snapshot",
    "T",
    "action_end",
    "action_facts",
    "dialect",
    "duration_bucket_rows",
    "event_rows",
    "from_epoch",
    "managed_month_rows",
    "nf10_feeder_rows",
    "one_row",
    "ongoing_event_rows",
    "report_snapshot",
    "round_minutes",
    "summary",
    "ts_param",
    "worst_by_longest_rows",
    "worst_by_total_rows",
]
