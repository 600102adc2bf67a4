"""Celery task of the reports app: generate one export file.

Registered under ``curtailment.reports.export``, the name it had before reports became an
app: an export queued before a deploy is still run after it.
"""

from __future__ import annotations

from celery import shared_task

from reports.services import report_export_run


@shared_task(name="curtailment.reports.export", acks_late=True, ignore_result=True)
def report_export_task(export_id: str) -> None:
    """Generate the export ``export_id``. Idempotent: ``report_export_run`` runs a job only
    from the queued state, once (an atomic cache ``add`` guards it), so a redelivered
    message after a worker crash does nothing; a job lost with the cache is logged."""
    report_export_run(export_id=export_id)
