"""The report's tables and columns: one definition for the CSV, XLSX and JSON writers, the JSON
Schema and the documentation."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    description: str
    nullable: bool = False


@dataclass(frozen=True)
class Table:
    name: str
    title: str
    description: str
    columns: tuple[Column, ...]

    @property
    def header(self) -> list[str]:
        return [column.name for column in self.columns]


C = Column

SUMMARY = Table(
    "summary",
    "Summary",
    "One row per metric: the period and its totals.",
    (C("metric", "string", "Metric name (see the summary metrics list)"), C("value", "string", "Its value")),
)

# The summary metrics, in order, with their types (values are typed in JSON, text in CSV).
SUMMARY_METRICS: tuple[Column, ...] = (
    C("period_label", "string", "The period, in words"),
    C("period_first_day", "date", "First London calendar day of the period (inclusive)"),
    C("period_last_day", "date", "Last London calendar day of the period (inclusive)"),
    C("period_start_utc", "datetime", "UTC instant of London midnight at the start of the period"),
    C("period_end_utc", "datetime", "UTC instant of London midnight after the last day (exclusive)"),
    C("generated_at", "datetime", "When the report was generated"),
    C("events", "integer", "Events whose interval overlaps the period"),
    C("events_automatic", "integer", "... of which triggered automatically by a feeder alert"),
    C("events_manual", "integer", "... of which started by an operator"),
    C("events_external", "integer", "... of which raised by an external system (SCADA)"),
    C(
        "events_ongoing",
        "integer",
        "Events still running when the report was generated: their minutes are counted up to generated_at",
    ),
    C("mpans_affected", "integer", "Distinct MPANs curtailed in the period (each MPAN counted once)"),
    C("mpan_events", "integer", "Sum over events of the MPANs affected per event"),
    C("charger_actions", "integer", "Charger curtailments (actions) of those events, failed ones included"),
    C("charger_minutes", "number", "Charger-minutes curtailed inside the period"),
    C("mpans_switched_off", "integer", "Distinct MPANs whose charger was switched off (HCALCS, 7.6) in the period"),
    C("switched_off_minutes", "number", "... their charger-minutes switched off inside the period"),
    C("mpans_throttled", "integer", "Distinct MPANs whose charger was limited (APC, 7.16) in the period"),
    C("throttled_minutes", "number", "... their charger-minutes limited below 100 % inside the period"),
    C(
        "switched_off_kwh",
        "number",
        "Energy withheld by switch-offs inside the period, estimated: each charger's expected kW x its minutes",
    ),
    C(
        "throttled_kwh",
        "number",
        "Energy withheld by limits inside the period, estimated: each limit's kW withheld (its level in force "
        "at the end) x its minutes",
    ),
    C("event_minutes_total", "number", "Sum of the events' minutes inside the period"),
    C("event_minutes_mean", "number", "Mean event minutes inside the period (0 without events)"),
    C("event_minutes_max", "number", "Longest event's minutes inside the period (so far, if it is still running)"),
    C("event_minutes_max_ongoing", "boolean", "The longest event is still running: its minutes will grow"),
    C("overrides", "integer", "Curtailments cut short by the customer's boost button"),
    C("failed_commands", "integer", "Curtailments whose command failed (charger not switched off)"),
    C("late_commands", "integer", "Curtailments confirmed late or never confirmed in time"),
    C("notifications_sent", "integer", "Event notifications sent to customers (directly or in a sent digest)"),
    C("asp_calloff_kw", "number", "Sum of ASP call-off kW over the events"),
    C("feeders_with_events", "integer", "Distinct feeders with an event in the period"),
    C("feeders_past_market_solution_date", "integer", "Feeders managed for 6 months or more by the last day (NF10)"),
    C("feeders_past_implementation_date", "integer", "Feeders managed for 18 months or more by the last day (NF10)"),
    C("limit_breaches", "integer", "Rows of the breaches table (expected 0)"),
)

EVENTS = Table(
    "events",
    "Events",
    "One row per curtailment event whose interval overlaps the period, oldest first.",
    (
        C("event_id", "integer", "Event id in dnoctl"),
        C("feeder", "string", "LV feeder code"),
        C("substation", "string", "Secondary substation code"),
        C("licence_area", "string", "Distribution licence area"),
        C("trigger", "string", "automatic, manual or external"),
        C("status", "string", "active, releasing or ended (at generation time)"),
        C("ongoing", "boolean", "Still running at generation time: its minutes are counted up to generated_at"),
        C("end_reason", "string", "Why the event ended (empty while open)"),
        C("started_at", "datetime", "Event start"),
        C("ended_at", "datetime", "Event end (null while open)", nullable=True),
        C("duration_minutes", "number", "Whole event, start to end (start to generated_at while ongoing)"),
        C("minutes_in_period", "number", "The event's minutes inside the period (so far, while ongoing)"),
        C("mpans_affected", "integer", "Distinct MPANs curtailed by this event inside the period"),
        C("charger_actions", "integer", "Chargers the event tried to curtail (failed ones included)"),
        C("charger_minutes", "number", "Charger-minutes curtailed inside the period"),
        C("overrides", "integer", "Curtailments cut short by the boost button"),
        C("failed_commands", "integer", "Curtailments whose command failed"),
        C("late_commands", "integer", "Curtailments confirmed late or never confirmed in time"),
        C("asp_calloff_kw", "number", "kW called off from ASP contracts for this event"),
        C("notifications_sent", "integer", "Customer notifications about this event that were sent"),
    ),
)

DURATION_BUCKETS = Table(
    "duration_buckets",
    "Event durations",
    "Events by their minutes inside the period.",
    (
        C("bucket", "string", "Range of minutes, lower bound inclusive"),
        C("min_minutes", "number", "Lower bound (inclusive)"),
        C("max_minutes", "number", "Upper bound (exclusive; null for the last bucket)", nullable=True),
        C("events", "integer", "Events in the bucket"),
    ),
)

MANAGED_MONTHS = Table(
    "managed_months",
    "Feeders managed per month",
    "One row per London calendar month the period touches (clipped to the period).",
    (
        C("month", "string", "YYYY-MM"),
        C("feeders_managed", "integer", "Distinct feeders with an event overlapping the month"),
        C("events", "integer", "Events overlapping the month"),
    ),
)

NF10_FEEDERS = Table(
    "nf10_feeders",
    "NF10 feeder dates",
    "Feeders under management (Feeder.managed_since on or before the last day), with the NF10 dates.",
    (
        C("feeder", "string", "LV feeder code"),
        C("substation", "string", "Secondary substation code"),
        C("licence_area", "string", "Distribution licence area"),
        C("managed_since", "date", "First month of the current run of managed months"),
        C("market_solution_due", "date", "managed_since + 6 months: a market solution should be found"),
        C("implementation_due", "date", "market_solution_due + 12 months: the solution should be in place"),
        C(
            "nf10_status",
            "string",
            "within_market_solution_window, past_market_solution_date or past_implementation_date",
        ),
        C("events_in_period", "integer", "The feeder's events overlapping the period"),
    ),
)

WORST_BY_TOTAL = Table(
    "worst_by_total",
    "Worst served (total)",
    "Top MPANs by cumulative curtailed minutes inside the period.",
    (
        C("rank", "integer", "1 = most minutes"),
        C("mpan", "string", "MPAN core (13 digits)"),
        C("curtailed_minutes", "number", "Charger-minutes curtailed inside the period"),
        C("events", "integer", "Events that curtailed this MPAN"),
        C("longest_minutes", "number", "Longest single curtailment inside the period"),
    ),
)

WORST_BY_LONGEST = Table(
    "worst_by_longest",
    "Worst served (longest)",
    "Top MPANs by their longest single curtailment inside the period.",
    (
        C("rank", "integer", "1 = longest"),
        C("mpan", "string", "MPAN core (13 digits)"),
        C("longest_minutes", "number", "Longest single curtailment inside the period"),
        C("longest_event_id", "integer", "The event of that curtailment"),
        C("longest_started_at", "datetime", "When that curtailment started"),
        C("curtailed_minutes", "number", "Charger-minutes curtailed inside the period"),
        C("events", "integer", "Events that curtailed this MPAN"),
    ),
)

BREACHES = Table(
    "breaches",
    "Limit breaches",
    "Chargers over the NF11 (120 min in any 24 h) or NF12 (480 min in any 30 days) limit in a window overlapping "
    "the period: the worst window per charger and limit. Expected to be empty.",
    (
        C("mpan", "string", "MPAN core (13 digits)", nullable=True),
        C("hcalcs", "string", "EUI-64 of the charger's switch"),
        C("limit", "string", "24h or 30d"),
        C("limit_minutes", "integer", "The limit"),
        C("window_start", "datetime", "Start of the worst window"),
        C("window_end", "datetime", "End of the worst window"),
        C("curtailed_minutes", "number", "Minutes curtailed in that window (whole actions, not clipped to the period)"),
        C("breaching_windows", "integer", "Candidate windows of this charger over the limit"),
    ),
)

# Order of tables in every format (the summary first).
TABLES: tuple[Table, ...] = (
    SUMMARY,
    DURATION_BUCKETS,
    MANAGED_MONTHS,
    NF10_FEEDERS,
    EVENTS,
    WORST_BY_TOTAL,
    WORST_BY_LONGEST,
    BREACHES,
)
TABLES_BY_NAME = {table.name: table for table in TABLES}

# Event duration buckets (minutes, lower bound inclusive); None = no upper bound.
DURATION_BUCKET_BOUNDS: tuple[tuple[float, float | None], ...] = (
    (0, 15),
    (15, 30),
    (30, 60),
    (60, 120),
    (120, 240),
    (240, None),
)


def bucket_label(low: float, high: float | None) -> str:
    return f"{low:g}-{high:g} min" if high is not None else f">= {low:g} min"


_JSON_TYPES = {
    "integer": {"type": "integer"},
    "number": {"type": "number"},
    "string": {"type": "string"},
    "boolean": {"type": "boolean"},
    "datetime": {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$"},
    "date": {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}$"},
}


def _json_type(column: Column) -> dict:
    schema = dict(_JSON_TYPES[column.type])
    if column.nullable:
        schema["type"] = [schema["type"], "null"]
    schema["description"] = column.description
    return schema


def _row_schema(table: Table) -> dict:
    return {
        "type": "object",
        "description": table.description,
        "properties": {column.name: _json_type(column) for column in table.columns},
        "required": table.header,
        "additionalProperties": False,
    }


def json_schema() -> dict:
    """``reports/schema.json`` is this, written out; a test keeps the two equal."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://dnoctl.example/schemas/ofgem-curtailment-report-v2.json",
        "title": "dnoctl Ofgem curtailment report",
        "type": "object",
        "required": ["format", "version", "period", "summary", "tables"],
        "additionalProperties": False,
        "properties": {
            "format": {"const": "dnoctl-ofgem-curtailment-report"},
            "version": {"const": 2},
            "period": {
                "type": "object",
                "required": ["kind", "label", "first_day", "last_day", "start_utc", "end_utc", "timezone"],
                "additionalProperties": False,
                "properties": {
                    "kind": {"enum": ["regulatory_year", "quarter", "month", "custom"]},
                    "label": {"type": "string"},
                    "first_day": _JSON_TYPES["date"],
                    "last_day": _JSON_TYPES["date"],
                    "start_utc": _JSON_TYPES["datetime"],
                    "end_utc": _JSON_TYPES["datetime"],
                    "timezone": {"const": "Europe/London"},
                },
            },
            "summary": {
                "type": "object",
                "properties": {metric.name: _json_type(metric) for metric in SUMMARY_METRICS},
                "required": [metric.name for metric in SUMMARY_METRICS],
                "additionalProperties": False,
            },
            "tables": {
                "type": "object",
                "required": [table.name for table in TABLES if table is not SUMMARY],
                "additionalProperties": False,
                "properties": {
                    table.name: {"type": "array", "items": _row_schema(table)}
                    for table in TABLES
                    if table is not SUMMARY
                },
            },
        },
    }


SCHEMA_PATH = Path(__file__).with_name("schema.json")
