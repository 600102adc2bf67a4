"""Which DCC user roles may send which SRVs, under two rule sets.

``today``: the current DUIS matrix (7.6, 7.8, 7.9, 7.10, 7.13 Import Supplier only; no role for
7.16). ``secmp0046`` (default): the ED may also send 7.6, 7.8-7.11, 7.13 and 7.16, to devices whose
firmware has the replacement GBCS use cases only. 8.13 is opened to the ED too: an assumption (the
modification does not list it), since local delivery needs it.
"""

from __future__ import annotations

from dataclasses import dataclass

IMPORT_SUPPLIER = "IS"
ELECTRICITY_DISTRIBUTOR = "ED"
OTHER_USER = "OU"
GAS_SUPPLIER = "GS"
ROLES = frozenset({IMPORT_SUPPLIER, ELECTRICITY_DISTRIBUTOR, OTHER_USER, GAS_SUPPLIER})

TODAY_ROLES: dict[str, frozenset[str]] = {
    "7.6": frozenset({"IS"}),
    "7.7": frozenset({"IS", "ED", "OU"}),
    "7.8": frozenset({"IS"}),
    "7.9": frozenset({"IS"}),
    "7.10": frozenset({"IS"}),
    "7.11": frozenset({"IS", "OU"}),
    "7.13": frozenset({"IS"}),
    "7.16": frozenset(),
    "8.13": frozenset({"IS", "GS"}),
}
ENO_SRVS = frozenset({"7.6", "7.8", "7.9", "7.10", "7.11", "7.13", "7.16"})


@dataclass(frozen=True)
class Decision:
    """``code`` is None when the request is eligible, else the DUIS E-code to answer."""

    code: str | None
    reason: str = ""


def check_eligibility(*, rules: str, role: str, srv: str, device_has_eno_firmware: bool | None) -> Decision:
    """Decide whether ``role`` may send ``srv``; ``device_has_eno_firmware`` is None for non-device SRVs."""
    allowed = set(TODAY_ROLES.get(srv, frozenset()))
    if rules == "secmp0046":
        if srv in ENO_SRVS or srv == "8.13":
            allowed.add(ELECTRICITY_DISTRIBUTOR)
    elif rules != "today":
        raise ValueError(f"rules: must be 'today' or 'secmp0046', got {rules!r}")
    if role not in allowed:
        return Decision("E2", f"role {role} may not send {srv} under {rules} rules")
    # Under SECMP0046 the ED route needs the new use cases on the device itself.
    needs_firmware = rules == "secmp0046" and role == ELECTRICITY_DISTRIBUTOR and srv in ENO_SRVS
    if needs_firmware and device_has_eno_firmware is False:
        return Decision("E11", f"device firmware does not support the ENO use case for {srv}")
    return Decision(None)
