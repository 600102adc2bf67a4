"""Cross-row checks kept as compact per-key fingerprints, never the row data."""

from __future__ import annotations

import hashlib
from typing import Any

from consent.importer.report import ImportReport
from consent.importer.rows import ParsedRow


def fingerprint(*parts: Any) -> int:
    """64 bits: collisions across 10^5 keys are about 10^-9."""
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


class Consistency:
    def __init__(self) -> None:
        self.premises: dict[int, int] = {}
        self.meters: dict[int, tuple[int, int]] = {}  # meter -> (premise fingerprint, meter fingerprint)
        self.mpans: dict[int, int] = {}
        self.hcalcs: dict[int, int] = {}
        self.switches: dict[int, int] = {}

    def check(self, row: ParsedRow, report: ImportReport) -> None:
        reference, meter_eui = row.premise[0], row.meter[0]
        premise_fp = fingerprint(*row.premise)
        if self.premises.setdefault(fingerprint(reference), premise_fp) != premise_fp:
            report.add_error(
                row.line, "premise_reference", f"premise {reference} is described differently on an earlier row"
            )
        meter_fp = (fingerprint(reference), fingerprint(*row.meter, row.mpans))
        previous = self.meters.setdefault(fingerprint(meter_eui), meter_fp)
        if previous[0] != meter_fp[0]:
            report.add_error(row.line, "meter_eui64", f"meter {meter_eui} is on a different premise on an earlier row")
        elif previous[1] != meter_fp[1]:
            report.add_error(row.line, "meter_eui64", f"meter {meter_eui} is described differently on an earlier row")
        for role, core in row.mpans:
            owner = fingerprint(meter_eui, role)
            if self.mpans.setdefault(int(core), owner) != owner:
                report.add_error(row.line, f"mpan_{role}", f"MPAN {core} is on another meter or role on an earlier row")
        if row.hcalcs is not None:
            eui, index = row.hcalcs[0], row.hcalcs[1]
            if fingerprint(eui) in self.hcalcs:
                report.add_error(row.line, "hcalcs_eui64", f"HCALCS {eui} is on an earlier row (one row per HCALCS)")
            self.hcalcs[fingerprint(eui)] = row.line
            switch = fingerprint(meter_eui, index)
            if self.switches.setdefault(switch, row.line) != row.line:
                report.add_error(
                    row.line, "hcalcs_index", f"meter {meter_eui} already has switch {index} on an earlier row"
                )
