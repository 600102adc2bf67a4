"""The report's reads: SQL aggregation streamed through server-side cursors, the same SQL on
PostgreSQL and SQLite. The counting rules are in ``docs/ofgem-report.md``.

``report_snapshot`` materialises the period's events and actions into temporary tables in one
transaction, so every table of one report comes from the same rows and no aggregate re-joins the
history."""

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
