"""Registered under its name from before reports was an app, so an export queued before a deploy
still runs after it."""

from __future__ import annotations

from celery import shared_task

from reports.services import report_export_run


@shared_task(name="curtailment.reports.export", acks_late=True, ignore_result=True)
def report_export_task(export_id: str) -> None:
    """Generate one export. Idempotent: ``report_export_run`` runs a job once, from queued (an
    atomic cache ``add`` guards it), so a redelivered message does nothing."""
    report_export_run(export_id=export_id)
