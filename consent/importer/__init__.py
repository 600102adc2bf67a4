"""The premises register import: premises, meters, MPANs and HCALCS from one CSV file.

All or nothing, in two streaming passes over the file (the ``csv`` module over the open
file; the file is never loaded whole):

1. **validate** every row, collecting every error as (row, column, reason); cross-row
   consistency (a premise or meter described differently on two rows, an MPAN or HCALCS on
   two rows) is checked with compact per-key fingerprints (about 100 bytes per distinct
   key, never the row data). Any error: nothing is written and the report lists them.
2. **write** in one transaction, in chunks of ``CHUNK_ROWS``: for each chunk the existing
   rows are read by natural key (premise reference, meter EUI-64, MPAN core, HCALCS
   EUI-64), and only new rows are created and changed rows updated (bulk), so re-importing
   the same file changes nothing and the report says created / updated / unchanged.

``--dry-run`` runs both passes and rolls back, so its counts are exact.

The modules, in the order an import uses them: ``columns`` (the file's columns), ``rows``
(one row's cells), ``reading`` (streaming the file in chunks), ``validation`` (cross-row
checks), ``writer`` (the upserts), ``run`` (the two passes), ``jobs`` (the upload page's
background job and the audit entry); ``report`` is what an import found and did.
"""

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
