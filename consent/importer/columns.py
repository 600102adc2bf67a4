"""The file's columns: ``COLUMNS`` is the truth (``docs/premises-import.md``)."""

from __future__ import annotations

from consent.choices import MpanRole

MPAN_COLUMNS = {
    "mpan_import_primary": MpanRole.IMPORT_PRIMARY,
    "mpan_export_primary": MpanRole.EXPORT_PRIMARY,
    "mpan_import_secondary": MpanRole.IMPORT_SECONDARY,
    "mpan_export_secondary": MpanRole.EXPORT_SECONDARY,
}
REQUIRED_COLUMNS = ("premise_reference", "address", "postcode", "meter_eui64", "firmware_version")
COLUMNS = (
    "premise_reference",
    "address",
    "postcode",
    "domestic",
    "feeder_code",
    "meter_eui64",
    "element_type",
    "comms_hub_type",
    "firmware_version",
    "supports_eno_use_cases",
    *MPAN_COLUMNS,
    "hcalcs_eui64",
    "hcalcs_index",
    "hcalcs_controller_type",
    "hcalcs_label",
    "hcalcs_rated_kw",
)
