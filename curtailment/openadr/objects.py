"""How ASP contracts and call-offs read as OpenADR 3 objects (a contract is a programme, a call-off an
event asking ``DISPATCH_SETPOINT_RELATIVE`` of minus the kW, with ``DELTA_USAGE`` reports), and what
a report says was delivered. No database access."""

from __future__ import annotations

import datetime as dt
import math
import re

from curtailment.openadr.schemas import ReportIn

DISPATCH = "DISPATCH_SETPOINT_RELATIVE"
DELIVERY = "DELTA_USAGE"
UNITS = "KW"
AGGREGATED = "AGGREGATED_REPORT"
PROGRAM_TYPE = "DNO_FLEXIBILITY_CALL_OFF"

_CONTRACT_ID = re.compile(r"^contract-(\d{1,18})$")
_CALLOFF_ID = re.compile(r"^calloff-(\d{1,18})$")


class ReportProblem(ValueError):
    """A report that cannot be read as a delivery figure; the message names the field."""


def program_id(contract) -> str:
    return f"contract-{contract.pk}"


def event_id(calloff) -> str:
    return f"calloff-{calloff.pk}"


def contract_pk(object_id: str) -> int | None:
    match = _CONTRACT_ID.match(object_id or "")
    return int(match.group(1)) if match else None


def calloff_pk(object_id: str) -> int | None:
    match = _CALLOFF_ID.match(object_id or "")
    return int(match.group(1)) if match else None


def iso_duration(delta: dt.timedelta) -> str:
    """Whole seconds, rounded up (never shorter than asked), e.g. ``PT3600S``."""
    return f"PT{max(0, math.ceil(delta.total_seconds()))}S"


def program_object(contract) -> dict:
    return {
        "id": program_id(contract),
        "programName": contract.reference,
        "programLongName": f"Flexibility contract {contract.reference} ({contract.provider})",
        "programType": PROGRAM_TYPE,
        "country": "GB",
        "intervalPeriod": {
            "start": contract.starts_at,
            "duration": iso_duration(contract.ends_at - contract.starts_at),
        },
        "bindingEvents": False,
        "payloadDescriptors": [
            {"objectType": "EVENT_PAYLOAD_DESCRIPTOR", "payloadType": DISPATCH, "units": UNITS},
            {
                "objectType": "REPORT_PAYLOAD_DESCRIPTOR",
                "payloadType": DELIVERY,
                "readingType": "DIRECT_READ",
                "units": UNITS,
            },
        ],
        "targets": [{"type": "VEN_NAME", "values": [contract.ven.ven_name]}] if contract.ven_id else None,
    }


def calloff_end(calloff) -> dt.datetime:
    """Where the event's interval ends: the release if it came first."""
    end = calloff.ends_at or calloff.called_at
    if calloff.released_at is not None and calloff.released_at < end:
        end = calloff.released_at
    return max(end, calloff.called_at)


def event_object(calloff) -> dict:
    """The call-off as an OpenADR 3 event (select ``contract__ven`` and ``event__feeder`` with it)."""
    contract = calloff.contract
    # Whole seconds: JSON carries milliseconds at most, and the interval must not end
    # before the event does.
    start = calloff.called_at.replace(microsecond=0)
    return {
        "id": event_id(calloff),
        "createdDateTime": calloff.called_at,
        "modificationDateTime": calloff.modified_at or calloff.called_at,
        "programID": program_id(contract),
        "eventName": f"{calloff.event.feeder.code} event {calloff.event_id}",
        "priority": 0,
        "targets": [
            {"type": "VEN_NAME", "values": [contract.ven.ven_name]},
            {"type": "POWER_SERVICE_LOCATION", "values": [calloff.event.feeder.code]},
        ],
        "payloadDescriptors": [{"objectType": "EVENT_PAYLOAD_DESCRIPTOR", "payloadType": DISPATCH, "units": UNITS}],
        "reportDescriptors": [
            {
                "payloadType": DELIVERY,
                "readingType": "DIRECT_READ",
                "units": UNITS,
                "aggregate": True,
                "startInterval": -1,
                "numIntervals": -1,
                "historical": True,
                "frequency": -1,
                "repeat": -1,
            }
        ],
        "intervalPeriod": {
            "start": start,
            "duration": iso_duration(calloff_end(calloff) - start),
        },
        "intervals": [{"id": 0, "payloads": [{"type": DISPATCH, "values": [-round(calloff.kw, 3)]}]}],
    }


def report_object(report) -> dict:
    """A stored report as the VTN shows it: the body as received, with the VTN's fields."""
    body = dict(report.body)
    body.update(
        id=f"report-{report.pk}",
        createdDateTime=report.received_at,
        modificationDateTime=report.received_at,
        objectType="REPORT",
    )
    return body


def report_delivered_kw(report: ReportIn) -> float:
    """The load reduction a report states in kW: the ``AGGREGATED_REPORT`` resource, else the sum of
    each resource's last interval. :class:`ReportProblem` names what is wrong."""
    for index, descriptor in enumerate(report.payloadDescriptors or []):
        if descriptor.payloadType == DELIVERY and descriptor.units and descriptor.units.upper() != UNITS:
            raise ReportProblem(f"payloadDescriptors[{index}].units: {DELIVERY} must be in {UNITS}")
    aggregated = [r for r in report.resources if r.resourceName == AGGREGATED]
    resources = aggregated or report.resources
    total = 0.0
    for resource in resources:
        where = f"resources[{report.resources.index(resource)}]"
        if not resource.intervals:
            raise ReportProblem(f"{where}.intervals: at least one interval is needed")
        last = max(resource.intervals, key=lambda interval: interval.id)
        values = [v for payload in last.payloads if payload.type == DELIVERY for v in payload.values]
        if not values:
            raise ReportProblem(f"{where}.intervals[id={last.id}]: no {DELIVERY} payload")
        if len(values) != 1:
            raise ReportProblem(f"{where}.intervals[id={last.id}]: {DELIVERY} must have exactly one value")
        value = values[0]
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise ReportProblem(f"{where}.intervals[id={last.id}]: {DELIVERY} must be a number of kW")
        total += -float(value)
    return total
