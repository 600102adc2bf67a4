"""Telemetry ingest: validate a batch whole, store it idempotently, hand it to detection."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from core.times import datetime_with_offset
from feeders import dialect
from feeders.models import MonitorToken
from feeders.selectors import load_percent_of
from feeders.services.detection import FeederRow, ReadingIn, readings_apply

logger = logging.getLogger(__name__)


# --- telemetry ingest ---------------------------------------------------------------------

MAX_BATCH_ROWS = 5000
# A monitor's clock may run a little fast; beyond this a timestamp is from the future.
FUTURE_SKEW = timedelta(seconds=60)
# Readings before this are a monitor with an unset clock, not history.
EARLIEST_READING = datetime(2000, 1, 1, tzinfo=UTC)
# A phase current above this multiple of the rating is a broken sensor or a unit mix-up
# (mA for A), not load: a fuse would have blown long before.
ABSURD_RATING_MULTIPLE = 10.0
ROW_FIELDS = {"feeder", "monitor", "measured_at", "amps", "kw"}
MAX_ERRORS_REPORTED = 500


class TelemetryRejected(Exception):
    def __init__(self, status: int, errors: list[dict[str, Any]]):
        super().__init__(f"telemetry batch rejected ({len(errors)} error(s))")
        self.status = status
        self.errors = errors


@dataclass(frozen=True)
class IngestResult:
    accepted: int
    duplicates: int
    alerts_raised: list[int]
    alerts_cleared: list[int]


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


_FEEDER_KEYS = frozenset({"feeder", "measured_at", "amps", "kw"})
_MONITOR_KEYS = frozenset({"monitor", "measured_at", "amps", "kw"})
_INFINITY = float("inf")


def _row_well_formed(row: Any, latest: datetime) -> datetime | None:
    """The fast path: None when any structural check might fail; the caller then asks
    :func:`_row_structure_errors` for the reasons."""
    if type(row) is not dict:
        return None
    keys = row.keys()
    if keys != _FEEDER_KEYS and keys != _MONITOR_KEYS:
        return None
    ident = row.get("feeder") or row.get("monitor")
    amps, kw, raw_time = row["amps"], row["kw"], row["measured_at"]
    if (
        type(ident) is not str
        or len(ident) > 64
        or "\x00" in ident
        or type(amps) is not list
        or not 1 <= len(amps) <= 3
    ):
        return None
    for value in amps:  # NaN fails 0 <= value; infinity fails value < inf
        if (type(value) is not float and type(value) is not int) or not 0 <= value < _INFINITY:
            return None
    if (type(kw) is not float and type(kw) is not int) or not -_INFINITY < kw < _INFINITY:
        return None
    try:
        parsed = datetime_with_offset(raw_time)
    except ValueError:
        return None
    return parsed if EARLIEST_READING <= parsed <= latest else None


def _row_structure_errors(index: int, row: Any, now: datetime) -> tuple[list[dict], datetime | None]:
    errors: list[dict] = []

    def bad(field: str | None, reason: str) -> None:
        errors.append({"row": index, "field": field, "reason": reason})

    if not isinstance(row, dict):
        bad(None, "must be an object")
        return errors, None
    for unknown in sorted(set(row) - ROW_FIELDS):
        bad(unknown, "unknown field")
    has_feeder, has_monitor = "feeder" in row, "monitor" in row
    if has_feeder == has_monitor:
        bad("feeder", "give exactly one of feeder (code) or monitor (device id)")
    key = "feeder" if has_feeder else "monitor"
    if has_feeder or has_monitor:
        ident = row[key]
        if not isinstance(ident, str) or not ident or len(ident) > 64:
            bad(key, "must be a non-empty string of at most 64 characters")
        elif "\x00" in ident:
            # PostgreSQL text cannot hold NUL; no feeder code or device id contains one.
            bad(key, "must not contain NUL characters")
    measured_at = None
    try:
        parsed = datetime_with_offset(row.get("measured_at"))
    except ValueError as exc:
        bad("measured_at", str(exc))
    else:
        if parsed > now + FUTURE_SKEW:
            bad("measured_at", f"in the future (more than {int(FUTURE_SKEW.total_seconds())} s ahead of the server)")
        elif parsed < EARLIEST_READING:
            bad("measured_at", "before 2000: the monitor's clock is not set")
        else:
            measured_at = parsed
    amps = row.get("amps")
    if not isinstance(amps, list) or not amps or len(amps) > 3:
        bad("amps", "required: a list of 1 or 3 phase currents in amps")
    else:
        for phase, value in enumerate(amps, start=1):
            if not _is_number(value):
                bad("amps", f"phase {phase}: not a number")
            elif not math.isfinite(value):
                bad("amps", f"phase {phase}: not finite")
            elif value < 0:
                bad("amps", f"phase {phase}: negative current")
    kw = row.get("kw")
    if not _is_number(kw):
        bad("kw", "required: a number (kW; negative when the feeder exports)")
    elif not math.isfinite(kw):
        bad("kw", "not finite")
    return errors, measured_at


def _feeder_errors(index: int, row: dict, feeder: FeederRow | None, *, well_formed: bool) -> list[dict]:
    key = "feeder" if "feeder" in row else "monitor"
    if feeder is None:
        what = "feeder code" if key == "feeder" else "monitor id"
        return [{"row": index, "field": key, "reason": f"unknown {what} {row[key]!r}"}]
    if not well_formed:  # the numbers are already reported as malformed
        return []
    errors = []
    amps = row["amps"]
    if len(amps) != feeder.phases:
        errors.append(
            {
                "row": index,
                "field": "amps",
                "reason": f"{len(amps)} phase(s) given, feeder {feeder.code} has {feeder.phases}",
            }
        )
    ceiling, kw_ceiling = _ceilings(feeder)
    if max(amps) > ceiling:
        errors.append(
            {
                "row": index,
                "field": "amps",
                "reason": f"above {ceiling:g} A ({ABSURD_RATING_MULTIPLE:g}x the rating): not a plausible reading",
            }
        )
    if abs(row["kw"]) > kw_ceiling:
        errors.append({"row": index, "field": "kw", "reason": f"beyond +/-{kw_ceiling:g} kW: not a plausible reading"})
    return errors


def _ceilings(feeder: FeederRow) -> tuple[float, float]:
    amps = feeder.rating_amps * ABSURD_RATING_MULTIPLE
    return amps, amps * 0.4 * feeder.phases  # 400 V class * amps, generous at any voltage


def _plausible_load(row: dict, feeder: FeederRow) -> float | None:
    """The fast path of :func:`_feeder_errors`: None when any check might fail."""
    amps = row["amps"]
    peak = max(amps)
    ceiling, kw_ceiling = _ceilings(feeder)
    if len(amps) != feeder.phases or peak > ceiling or abs(row["kw"]) > kw_ceiling:
        return None
    return load_percent_of(amps=amps, rating_amps=feeder.rating_amps)


def _usable_id(value: Any) -> bool:
    """No NUL, which PostgreSQL text refuses."""
    return isinstance(value, str) and "\x00" not in value


def _feeders_lock(rows: list[dict], *, bound_to: str | None) -> tuple[dict[str, FeederRow], dict[str, FeederRow]]:
    """Row locks in id order serialise batches for the same feeder without deadlock, so two
    requests can never both raise an alert. A bound token finds only its monitor's feeder."""
    codes = {row["feeder"] for row in rows if _usable_id(row.get("feeder"))}
    monitors = {row["monitor"] for row in rows if _usable_id(row.get("monitor"))}
    found = dialect.feeders_lock(codes=codes, monitors=monitors, bound_to=bound_to)
    by_code, by_monitor = {}, {}
    for values in found:
        feeder = FeederRow(*values)
        by_code[feeder.code] = feeder
        if feeder.monitor_device_id:
            by_monitor[feeder.monitor_device_id] = feeder
    return by_code, by_monitor


def _reject(status: int, errors: list[dict]) -> TelemetryRejected:
    return TelemetryRejected(status, errors[:MAX_ERRORS_REPORTED])


def telemetry_ingest(*, token: MonitorToken, readings: Any, now: datetime | None = None) -> IngestResult:
    """Validate and store a batch of readings, then run at-risk detection.

    All or nothing: any bad row raises :class:`TelemetryRejected`. Idempotent on ``(feeder,
    measured_at)``, so a monitor may resend a batch it is unsure about."""
    now = now or timezone.now()
    if not isinstance(readings, list):
        raise _reject(400, [{"row": None, "field": "readings", "reason": "must be a list of readings"}])
    if not readings:
        raise _reject(400, [{"row": None, "field": "readings", "reason": "empty batch"}])
    if len(readings) > MAX_BATCH_ROWS:
        reason = f"{len(readings)} rows: a batch holds at most {MAX_BATCH_ROWS}"
        raise _reject(413, [{"row": None, "field": "readings", "reason": reason}])
    errors: list[dict] = []
    times: list[datetime | None] = []
    well_formed: list[bool] = []
    latest = now + FUTURE_SKEW
    for index, row in enumerate(readings):
        measured_at = _row_well_formed(row, latest)
        if measured_at is not None:
            times.append(measured_at)
            well_formed.append(True)
            continue
        row_errors, measured_at = _row_structure_errors(index, row, now)
        errors.extend(row_errors)
        times.append(measured_at)
        well_formed.append(not row_errors)
    with transaction.atomic():
        by_code, by_monitor = _feeders_lock(
            [row for row in readings if isinstance(row, dict)], bound_to=token.monitor_device_id
        )
        valid: list[ReadingIn] = []
        feeders: dict[int, FeederRow] = {}
        for index, row in enumerate(readings):
            if not isinstance(row, dict) or ("feeder" in row) == ("monitor" in row):
                continue
            ident = row.get("feeder", row.get("monitor"))
            if not isinstance(ident, str):
                continue
            feeder = by_code.get(ident) if "feeder" in row else by_monitor.get(ident)
            if feeder is None or not well_formed[index] or (load := _plausible_load(row, feeder)) is None:
                errors.extend(_feeder_errors(index, row, feeder, well_formed=well_formed[index]))
                continue
            feeders[feeder.id] = feeder
            valid.append(ReadingIn(index, feeder.id, times[index], tuple(row["amps"]), row["kw"], load))
        if errors:
            errors.sort(key=lambda error: error["row"])
            raise _reject(400, errors)
        inserted = dialect.readings_insert(valid, received_at=now)
        raised, cleared = readings_apply(inserted, feeders, now=now)
    return IngestResult(len(inserted), len(readings) - len(inserted), raised, cleared)
