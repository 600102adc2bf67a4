"""Ofgem curtailment reports (R5): periods, streamed SQL selectors, CSV/XLSX/JSON writers,
export jobs run by Celery with progress. See ``docs/ofgem-report.md``."""
