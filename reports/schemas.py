"""The reports API for the OpenAPI schema. Rows take their JSON Schema from ``columns``, so the
API and the export cannot describe them differently."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from ninja import Schema
from pydantic import ConfigDict, Field, WithJsonSchema

from reports.columns import json_schema

_EXPORT = json_schema()["properties"]
_TABLES = _EXPORT["tables"]["properties"]

Period = Annotated[dict[str, Any], WithJsonSchema(_EXPORT["period"])]
Summary = Annotated[dict[str, Any], WithJsonSchema(_EXPORT["summary"])]
DurationBuckets = Annotated[list[dict[str, Any]], WithJsonSchema(_TABLES["duration_buckets"])]
ManagedMonths = Annotated[list[dict[str, Any]], WithJsonSchema(_TABLES["managed_months"])]
WorstByTotal = Annotated[list[dict[str, Any]], WithJsonSchema(_TABLES["worst_by_total"])]
WorstByLongest = Annotated[list[dict[str, Any]], WithJsonSchema(_TABLES["worst_by_longest"])]
Breaches = Annotated[list[dict[str, Any]], WithJsonSchema(_TABLES["breaches"])]


class ReportSummary(Schema):
    """The report without the per-event rows and the NF10 feeder list."""

    period: Period
    summary: Summary
    duration_buckets: DurationBuckets
    managed_months: ManagedMonths
    worst_by_total: WorstByTotal
    worst_by_longest: WorstByLongest
    breaches: Breaches


class ExportIn(Schema):
    """The format and exactly one way of naming the period."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"format": "csv", "month": "2026-10"}]})

    format: Literal["csv", "xlsx", "json"] = Field(description="csv is a zip of one CSV file per table")
    regulatory_year: int | str | None = Field(None, description="e.g. 2026: 1 April 2026 to 31 March 2027")
    quarter: str | None = Field(None, description="e.g. 2026-Q3: October-December 2026")
    month: str | None = Field(None, description="e.g. 2026-10")
    start: str | None = Field(None, description="First day, e.g. 2026-10-01 (with end)")
    end: str | None = Field(None, description="Last day, inclusive (with start)")
    top_n: int | None = Field(None, ge=1, le=1000, description="Rows of the worst-served tables (default 20)")


class ExportJob(Schema):
    id: str = Field(description="32 hexadecimal digits")
    period: Period
    format: Literal["csv", "xlsx", "json"]
    top_n: int
    state: Literal["queued", "running", "done", "failed"]
    progress: float = Field(ge=0, le=1)
    stage: str
    filename: str
    error: str = Field(description="Why it failed (empty otherwise)")
    requested_at: dt.datetime
    finished_at: dt.datetime | None
    rows: dict[str, int] = Field(description="Rows per table, once done")
    status_url: str
    download_url: str | None = Field(description="Set once the export is done")
