"""The feeders' machine APIs for the OpenAPI schema; ``feeders.api`` parses bodies itself."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from ninja import Schema
from pydantic import ConfigDict, Field

from feeders.choices import AlertKind
from feeders.services.ingest import MAX_BATCH_ROWS

Amps = Annotated[float, Field(ge=0, description="Phase current in amps")]
MEASURED_AT = "ISO 8601 with its UTC offset; not before 2000, at most 60 s ahead of the server"
AMPS = "One current per phase of the feeder (1 or 3), in amps"
KW = "Real power in kW; negative when the feeder exports"


class ReadingByFeeder(Schema):
    """A reading named by the feeder's code."""

    model_config = ConfigDict(extra="forbid")

    feeder: str = Field(min_length=1, max_length=64, description="The feeder's code")
    measured_at: datetime = Field(description=MEASURED_AT)
    amps: list[Amps] = Field(min_length=1, max_length=3, description=AMPS)
    kw: float = Field(description=KW)


class ReadingByMonitor(Schema):
    """A reading named by the monitor's device id."""

    model_config = ConfigDict(extra="forbid")

    monitor: str = Field(min_length=1, max_length=64, description="The LV monitor's device id")
    measured_at: datetime = Field(description=MEASURED_AT)
    amps: list[Amps] = Field(min_length=1, max_length=3, description=AMPS)
    kw: float = Field(description=KW)


class TelemetryBatch(Schema):
    """A batch of readings: stored all or nothing; a repeated reading is a duplicate, not an error."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "readings": [
                        {
                            "feeder": "SS001-F0001",
                            "measured_at": "2026-11-24T17:30:00Z",
                            "amps": [212.5, 198.0, 205.3],
                            "kw": 141.2,
                        }
                    ]
                }
            ]
        },
    )

    readings: list[ReadingByFeeder | ReadingByMonitor] = Field(min_length=1, max_length=MAX_BATCH_ROWS)


class TelemetryAccepted(Schema):
    accepted: int = Field(ge=0, description="Readings stored by this batch")
    duplicates: int = Field(ge=0, description="Readings already stored (or repeated in the batch)")


class RowError(Schema):
    row: int | None = Field(description="Index of the bad reading in the batch; null for the request as a whole")
    field: str | None = Field(description="The field at fault, if one is")
    reason: str


class RowErrors(Schema):
    """Every problem found; nothing of the request was stored."""

    errors: list[RowError]


class ExternalAlert(Schema):
    """An alert the DNO's SCADA raises on a feeder."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "feeder": "SS001-F0001",
                    "raised_at": "2026-11-24T17:30:00Z",
                    "reason": "LV board load above 95 %",
                    "load_percent": 96.5,
                }
            ]
        },
    )

    feeder: str = Field(min_length=1, description="The feeder's code")
    raised_at: datetime = Field(description="ISO 8601 with its UTC offset, not in the future")
    reason: str = Field(min_length=1, max_length=1000, description="Why SCADA raised it (not blank)")
    load_percent: float | None = Field(None, ge=0, le=1000, description="Load as a percentage of the rating")


class AlertRaised(Schema):
    alert_id: int
    created: bool = Field(description="false when the feeder already had an open alert (this one is returned)")
    kind: AlertKind
