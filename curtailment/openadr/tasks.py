"""The worker's look at ASP call-offs: deadlines passed, reports gone stale, fallback."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from dnoctl.celery import app


@shared_task(name="curtailment.openadr.tasks.asp_calloffs_check", ignore_result=True)
def asp_calloffs_check() -> int:
    """Recount live call-offs and top events up where a provider fell short. Idempotent: counts are re-
    derived, each change a locked update."""
    from curtailment.services.asp import asp_calloffs_check as check

    return check()


app.conf.beat_schedule.update(
    {
        "curtailment-asp-calloffs-check": {
            "task": "curtailment.openadr.tasks.asp_calloffs_check",
            "schedule": float(settings.OPENADR["CHECK_S"]),
            "options": {"expires": float(settings.OPENADR["CHECK_S"])},
        }
    }
)
