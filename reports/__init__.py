"""Ofgem curtailment reports (R5); see ``docs/ofgem-report.md``."""
