"""Premises-register CSV files for the import tests and the import benchmark."""

from __future__ import annotations

import csv
from pathlib import Path

from consent.importer import COLUMNS
from tests.consent.factories import eui64_from_int, mpan_from_int


def register_row(n: int, *, hcalcs_per_meter: int = 1, switch: int = 1, feeder_code: str = "", **overrides) -> dict:
    """Row of premise ``n`` (one meter, its import MPAN, HCALCS number ``switch``)."""
    row = {
        "premise_reference": f"UPRN{n:09d}",
        "address": f"{n} Station Road, Walsall",
        "postcode": "WS1 1AA",
        "domestic": "yes",
        "feeder_code": feeder_code,
        "meter_eui64": eui64_from_int(n, prefix=0x0011),
        "element_type": "single",
        "comms_hub_type": "smets2_dual_band",
        "firmware_version": "4.2.0",
        "supports_eno_use_cases": "yes",
        "mpan_import_primary": mpan_from_int(n),
        "hcalcs_eui64": eui64_from_int(n * hcalcs_per_meter + switch - 1, prefix=0x00DB),
        "hcalcs_index": str(switch),
        "hcalcs_label": "ev_charger",
        "hcalcs_rated_kw": "7.4",
    }
    row.update(overrides)
    return row


def register_write(path: Path, rows) -> Path:
    """Write ``rows`` (an iterable of dicts, streamed) under the full header."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        for row in rows:
            writer.writerow(row)
    return path


def register_rows(premises: int, *, hcalcs_per_meter: int = 1, feeder_code: str = ""):
    """``premises`` premises, each with one meter carrying ``hcalcs_per_meter`` HCALCS."""
    for n in range(premises):
        for switch in range(1, hcalcs_per_meter + 1):
            yield register_row(n, hcalcs_per_meter=hcalcs_per_meter, switch=switch, feeder_code=feeder_code)
