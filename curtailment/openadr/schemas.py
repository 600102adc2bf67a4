"""The OpenADR 3.0.1 objects our VTN serves and accepts, as pydantic models with the specification's
field names; only what a call-off needs."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from ninja import Schema
from pydantic import ConfigDict, Field

OBJECT_ID = r"^[a-zA-Z0-9_-]*$"
# ISO 8601 duration, as the specification's ``duration`` pattern.
DURATION = r"^(-?)P(?=\d|T\d)(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)([DW]))?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$"


class ValuesMap(Schema):
    """Values of one type, e.g. ``{"type": "DELTA_USAGE", "values": [-7.5]}``."""

    type: str = Field(min_length=1, max_length=128)
    values: list[float | int | str | bool]


class IntervalPeriod(Schema):
    """Start and duration of an interval (or of all the intervals of an object)."""

    # The specification's duration pattern has a look-ahead, which pydantic's default
    # (Rust) regex engine does not support.
    model_config = ConfigDict(regex_engine="python-re")

    start: dt.datetime
    duration: str | None = Field(default=None, pattern=DURATION)
    randomizeStart: str | None = Field(default=None, pattern=DURATION)


class Interval(Schema):
    """A window of time and its payloads."""

    id: int
    intervalPeriod: IntervalPeriod | None = None
    payloads: list[ValuesMap]


class EventPayloadDescriptor(Schema):
    """How to read an event's payload values (units)."""

    objectType: Literal["EVENT_PAYLOAD_DESCRIPTOR"] = "EVENT_PAYLOAD_DESCRIPTOR"
    payloadType: str = Field(min_length=1, max_length=128)
    units: str | None = None
    currency: str | None = None


class ReportPayloadDescriptor(Schema):
    """How to read a report's payload values (units, reading type)."""

    objectType: Literal["REPORT_PAYLOAD_DESCRIPTOR"] = "REPORT_PAYLOAD_DESCRIPTOR"
    payloadType: str = Field(min_length=1, max_length=128)
    readingType: str | None = None
    units: str | None = None
    accuracy: float | None = None
    confidence: int | None = Field(default=None, ge=0, le=100)


class ReportDescriptor(Schema):
    """The report the VTN asks for with an event."""

    payloadType: str = Field(min_length=1, max_length=128)
    readingType: str | None = None
    units: str | None = None
    targets: list[ValuesMap] | None = None
    aggregate: bool = False
    startInterval: int = -1
    numIntervals: int = -1
    historical: bool = True
    frequency: int = -1
    repeat: int = 1


class Program(Schema):
    """One ASP contract, as the provider's VEN sees it."""

    id: str = Field(pattern=OBJECT_ID, min_length=1, max_length=128)
    objectType: Literal["PROGRAM"] = "PROGRAM"
    programName: str = Field(min_length=1, max_length=128)
    programLongName: str | None = None
    retailerName: str | None = None
    programType: str | None = None
    country: str | None = None
    intervalPeriod: IntervalPeriod | None = None
    bindingEvents: bool | None = None
    payloadDescriptors: list[EventPayloadDescriptor | ReportPayloadDescriptor] | None = None
    targets: list[ValuesMap] | None = None


class Event(Schema):
    """One call-off: reduce load by ``-values[0]`` kW over the interval period."""

    id: str = Field(pattern=OBJECT_ID, min_length=1, max_length=128)
    createdDateTime: dt.datetime
    modificationDateTime: dt.datetime
    objectType: Literal["EVENT"] = "EVENT"
    programID: str = Field(pattern=OBJECT_ID, min_length=1, max_length=128)
    eventName: str | None = None
    priority: int | None = Field(default=None, ge=0)
    targets: list[ValuesMap] | None = None
    reportDescriptors: list[ReportDescriptor] | None = None
    payloadDescriptors: list[EventPayloadDescriptor] | None = None
    intervalPeriod: IntervalPeriod | None = None
    intervals: list[Interval]


class ReportResource(Schema):
    """Report data for one resource (``AGGREGATED_REPORT`` for the provider's total)."""

    resourceName: str = Field(min_length=1, max_length=128)
    intervalPeriod: IntervalPeriod | None = None
    intervals: list[Interval]


class ReportIn(Schema):
    """A report as a VEN sends it. Fields the VTN provisions (id, times) are ignored."""

    model_config = ConfigDict(extra="ignore")

    objectType: Literal["REPORT"] | None = None
    programID: str = Field(pattern=OBJECT_ID, min_length=1, max_length=128)
    eventID: str = Field(pattern=OBJECT_ID, min_length=1, max_length=128)
    clientName: str = Field(min_length=1, max_length=128)
    reportName: str | None = Field(default=None, max_length=200)
    payloadDescriptors: list[ReportPayloadDescriptor] | None = None
    resources: list[ReportResource] = Field(min_length=1)


class Report(ReportIn):
    """A report as the VTN stored it."""

    id: str = Field(pattern=OBJECT_ID, min_length=1, max_length=128)
    createdDateTime: dt.datetime
    modificationDateTime: dt.datetime
    objectType: Literal["REPORT"] = "REPORT"


class TokenReply(Schema):
    """``/auth/token``'s answer (RFC 6749 client credentials)."""

    access_token: str
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 - a token type, not a secret
    expires_in: int
    scope: str


class AuthError(Schema):
    """``/auth/token``'s refusal (RFC 6749 section 5.2)."""

    error: str
    error_description: str | None = None


class Problem(Schema):
    """An RFC 7807 problem: every other refusal of the VTN."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
