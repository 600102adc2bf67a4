"""Validators for smart-metering identifiers; each message names what is wrong, so a bad import
row or form field says why it was refused."""

from __future__ import annotations

import datetime as dt
import re

from django.core.exceptions import ValidationError
from django.utils import timezone

EUI64_PATTERN = r"^[0-9A-F]{2}(-[0-9A-F]{2}){7}$"
_EUI64_RE = re.compile(EUI64_PATTERN)
_EUI64_LOOSE = re.compile(r"^[0-9A-Fa-f]{2}([-:]?[0-9A-Fa-f]{2}){7}$")

# MPAN core check digit (the last of 13 digits): the sum of the first 12 digits times
# these primes, mod 11, mod 10. Defined by the Master Registration Agreement.
_MPAN_PRIMES = (3, 5, 7, 13, 17, 19, 23, 29, 31, 37, 41, 43)
MPAN_PATTERN = r"^[0-9]{13}$"

# UK postcode, outward and inward parts (the general form; BS 7666 simplified).
_POSTCODE_RE = re.compile(r"^[A-Z]{1,2}[0-9][A-Z0-9]? ?[0-9][A-Z]{2}$")


def eui64_normalise(value: str) -> str:
    if not isinstance(value, str) or not _EUI64_LOOSE.match(value.strip()):
        raise ValidationError(f"not an EUI-64 (8 hex pairs, e.g. 00-DB-12-34-56-78-90-A0): {value!r}")
    digits = re.sub(r"[-:]", "", value.strip()).upper()
    return "-".join(digits[i : i + 2] for i in range(0, 16, 2))


def validate_eui64(value: str) -> None:
    if not isinstance(value, str) or not _EUI64_RE.match(value):
        raise ValidationError(f"not a canonical EUI-64 (e.g. 00-DB-12-34-56-78-90-A0): {value!r}")


def mpan_check_digit(first_twelve: str) -> int:
    return sum(int(d) * p for d, p in zip(first_twelve, _MPAN_PRIMES, strict=True)) % 11 % 10


def validate_mpan_core(value: str) -> None:
    if not isinstance(value, str) or not re.fullmatch(MPAN_PATTERN, value):
        raise ValidationError(f"an MPAN core is 13 digits: {value!r}")
    expected = mpan_check_digit(value[:12])
    if int(value[12]) != expected:
        raise ValidationError(f"MPAN core {value} fails its check digit (expected {expected}, got {value[12]})")


def postcode_normalise(value: str) -> str:
    compact = re.sub(r"\s+", "", (value or "").upper())
    if not _POSTCODE_RE.match(compact):
        raise ValidationError(f"not a UK postcode: {value!r}")
    return f"{compact[:-3]} {compact[-3:]}"


def validate_evidence_date(value: dt.date) -> None:
    """Evidence is of consent already given, so not after today (Europe/London)."""
    today = timezone.localdate()
    if value is not None and value > today:
        raise ValidationError(
            f"{value.isoformat()} is in the future (today is {today.isoformat()}): give the date the customer consented"
        )
