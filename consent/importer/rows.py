"""One row's cells, checked with the validators the model fields use."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError

from consent.choices import CommsHubType, ControllerType, ElementType, LoadLabel, MpanRole
from consent.importer.columns import MPAN_COLUMNS
from consent.importer.report import ImportReport
from consent.validators import eui64_normalise, postcode_normalise, validate_mpan_core

_TRUE = {"1", "true", "yes", "y"}
_FALSE = {"0", "false", "no", "n"}
_HUB_ALIASES = {"single": CommsHubType.SINGLE_BAND, "dual": CommsHubType.DUAL_BAND}


@dataclass(frozen=True)
class ParsedRow:
    line: int
    premise: tuple  # (reference, address, postcode, domestic, feeder_code)
    meter: tuple  # (eui64, element_type, comms_hub_type, firmware, supports_eno)
    mpans: tuple  # ((role, core), ...)
    hcalcs: tuple | None  # (eui64, index, label, rated_kw, controller_type)


def _bool(value: str, default: bool) -> bool:
    lowered = value.strip().lower()
    if not lowered:
        return default
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValidationError(f"expected yes/no (or true/false, 1/0), got {value!r}")


@functools.cache
def _values(choices: type) -> frozenset[str]:
    """``TextChoices.values`` builds a new list on every call: far too slow per cell."""
    return frozenset(choices.values)


def _choice(value: str, choices: type, default: str, aliases: dict | None = None) -> str:
    lowered = value.strip().lower()
    if not lowered:
        return default
    lowered = (aliases or {}).get(lowered, lowered)
    if lowered not in _values(choices):
        raise ValidationError(f"expected one of {', '.join(choices.values)}, got {value!r}")
    return lowered


def _text(value: str, *, max_length: int, required: bool) -> str:
    text = value.strip()
    if required and not text:
        raise ValidationError("required")
    if len(text) > max_length:
        raise ValidationError(f"at most {max_length} characters, got {len(text)}")
    return text


def _field(report: ImportReport, line: int, column: str, parse: Callable[[], Any]) -> Any:
    try:
        return parse()
    except ValidationError as exc:
        report.add_error(line, column, "; ".join(exc.messages))
        return None


def parse_row(raw: dict[str, str], line: int, report: ImportReport, feeder_codes: set[str]) -> ParsedRow | None:
    get = lambda column: raw.get(column) or ""  # noqa: E731 - a missing cell is an empty cell
    before = report.error_count
    reference = _field(
        report, line, "premise_reference", lambda: _text(get("premise_reference"), max_length=32, required=True)
    )
    address = _field(report, line, "address", lambda: _text(get("address"), max_length=300, required=True))
    postcode = _field(report, line, "postcode", lambda: postcode_normalise(get("postcode")))
    domestic = _field(report, line, "domestic", lambda: _bool(get("domestic"), True))
    feeder_code = get("feeder_code").strip()
    if feeder_code and feeder_code not in feeder_codes:
        report.add_error(line, "feeder_code", f"no feeder with code {feeder_code!r}")
    meter_eui = _field(report, line, "meter_eui64", lambda: eui64_normalise(get("meter_eui64")))
    element = _field(
        report, line, "element_type", lambda: _choice(get("element_type"), ElementType, ElementType.SINGLE)
    )
    hub = _field(
        report,
        line,
        "comms_hub_type",
        lambda: _choice(get("comms_hub_type"), CommsHubType, CommsHubType.SINGLE_BAND, _HUB_ALIASES),
    )
    firmware = _field(
        report, line, "firmware_version", lambda: _text(get("firmware_version"), max_length=32, required=True)
    )
    eno = _field(report, line, "supports_eno_use_cases", lambda: _bool(get("supports_eno_use_cases"), False))
    mpans = []
    for column, role in MPAN_COLUMNS.items():
        core = get(column).strip()
        if not core:
            continue
        if _field(report, line, column, lambda core=core: validate_mpan_core(core) or True):
            if role in (MpanRole.IMPORT_SECONDARY, MpanRole.EXPORT_SECONDARY) and element == ElementType.SINGLE:
                report.add_error(line, column, "a secondary-element MPAN needs element_type twin")
            mpans.append((role, core))
    if not get("mpan_import_primary").strip():
        report.add_error(line, "mpan_import_primary", "required: every meter has an import MPAN on its primary element")
    hcalcs = None
    hcalcs_eui = get("hcalcs_eui64").strip()
    if hcalcs_eui:
        eui = _field(report, line, "hcalcs_eui64", lambda: eui64_normalise(hcalcs_eui))
        index = _field(report, line, "hcalcs_index", lambda: _int_between(get("hcalcs_index"), 1, 5))
        label = _field(report, line, "hcalcs_label", lambda: _label(get("hcalcs_label")))
        rated = _field(report, line, "hcalcs_rated_kw", lambda: _float_between(get("hcalcs_rated_kw"), 0.1, 50, 7.0))
        controller = _field(
            report,
            line,
            "hcalcs_controller_type",
            lambda: _choice(get("hcalcs_controller_type"), ControllerType, ControllerType.HCALCS),
        )
        if eui is not None and eui == meter_eui:
            report.add_error(line, "hcalcs_eui64", "the HCALCS cannot have the meter's EUI-64")
        hcalcs = (eui, index, label, rated, controller)
    else:
        for column in ("hcalcs_index", "hcalcs_controller_type", "hcalcs_label", "hcalcs_rated_kw"):
            if get(column).strip():
                report.add_error(line, column, "given without hcalcs_eui64")
    if report.error_count != before:
        return None
    return ParsedRow(
        line=line,
        premise=(reference, address, postcode, domestic, feeder_code),
        meter=(meter_eui, element, hub, firmware, eno),
        mpans=tuple(sorted(mpans)),
        hcalcs=hcalcs,
    )


def _int_between(value: str, low: int, high: int) -> int:
    try:
        number = int(value.strip())
    except ValueError:
        raise ValidationError(f"expected a whole number {low}..{high}, got {value!r}") from None
    if not low <= number <= high:
        raise ValidationError(f"must be {low}..{high}, got {number}")
    return number


def _float_between(value: str, low: float, high: float, default: float) -> float:
    if not value.strip():
        return default
    try:
        number = float(value.strip())
    except ValueError:
        raise ValidationError(f"expected a number of kW, got {value!r}") from None
    if not low <= number <= high:
        raise ValidationError(f"must be {low}..{high} kW, got {number}")
    return number


def _label(value: str) -> str:
    if not value.strip():
        raise ValidationError(f"required with an HCALCS (one of {', '.join(LoadLabel.values)})")
    return _choice(value, LoadLabel, LoadLabel.UNLABELLED)
