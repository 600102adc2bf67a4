"""The premises register import: premises, meters, MPANs and HCALCS from one CSV file.

All or nothing in two streaming passes, so the file is never loaded whole: validate every row
(cross-row checks by compact fingerprints), then upsert by natural key in one transaction, so
re-importing a file changes nothing. ``--dry-run`` runs both and rolls back, so its counts are
exact."""

from consent.importer.columns import COLUMNS, MPAN_COLUMNS, REQUIRED_COLUMNS
from consent.importer.jobs import (
    PROGRESS_TIMEOUT_S,
    import_job_run,
    import_progress_get,
    import_progress_key,
    import_progress_set,
    premises_import_audit,
)
from consent.importer.reading import CHUNK_ROWS
from consent.importer.report import MAX_ERRORS_KEPT, Counts, ImportReport, RowError
from consent.importer.rows import ParsedRow, parse_row
from consent.importer.run import Progress, premises_import, premises_import_path

__all__ = [
    "CHUNK_ROWS",
    "COLUMNS",
    "MAX_ERRORS_KEPT",
    "MPAN_COLUMNS",
    "PROGRESS_TIMEOUT_S",
    "REQUIRED_COLUMNS",
    "Counts",
    "ImportReport",
    "ParsedRow",
    "Progress",
    "RowError",
    "import_job_run",
    "import_progress_get",
    "import_progress_key",
    "import_progress_set",
    "parse_row",
    "premises_import",
    "premises_import_audit",
    "premises_import_path",
]
