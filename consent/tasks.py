"""Celery tasks of the consent app: they take ids, re-read the rows and call a service."""

from __future__ import annotations

import logging
import random

from celery import shared_task
from django.utils import timezone

from core.backoff import backoff_seconds
from dcc.duis import DccTransientError
from dnoctl.celery import app

logger = logging.getLogger(__name__)

BOOST_MAX_RETRIES = 5
RETRY_CAP_S = 3600


@shared_task(bind=True, max_retries=None, acks_late=True)
def notification_send(self, notification_id: int) -> str:
    """Deliver one notice. Idempotent: a sent notice (or one another worker holds) is skipped;
    the row counts attempts, so the cap holds even when beat re-queues a lost retry."""
    from consent.notifications import NotificationRetry
    from consent.notifications import notification_send as send

    try:
        return send(notification_id=notification_id)
    except NotificationRetry as exc:
        raise self.retry(exc=exc, countdown=exc.delay_s + random.randint(0, 30)) from exc


@shared_task(bind=True, acks_late=True)
def notifications_send(self, notification_ids: list[int]) -> dict[str, int]:
    """Deliver a batch of notices (an event's customers), one attempt each. Idempotent as
    :func:`notification_send`. A notice whose send fails transiently gets its own
    ``notification_send`` retry after the recorded delay; one that cannot be queued, or
    fails unexpectedly, stays pending or failed in its row, where the beat task
    (``notifications_send_due``) finds it: no notice of the batch is lost."""
    from consent.notifications import NotificationRetry
    from consent.notifications import notification_send as send
    from dnoctl.queueing import task_send

    outcome: dict[str, int] = {}
    for notification_id in notification_ids:
        try:
            status = send(notification_id=notification_id)
        except NotificationRetry as exc:
            status = "retrying"
            task_send(notification_send, (notification_id,), countdown=exc.delay_s + random.randint(0, 30))
        except Exception:
            status = "error"
            logger.exception("notice %s could not be sent; the beat task tries it again", notification_id)
        outcome[status] = outcome.get(status, 0) + 1
    return outcome


@shared_task(expires=240)
def notifications_send_due() -> int:
    """Beat: queue notices whose time has come. Idempotent: ``notification_send`` skips sent rows."""
    from consent.notifications import notices_send_batched, notification_due_ids

    due = notification_due_ids(now=timezone.now())
    notices_send_batched(due, on_commit=False)
    return len(due)


@shared_task(expires=3000)
def halfhour_prune() -> int:
    """Beat: delete profile data older than three months. Idempotent."""
    from consent.profiles import halfhour_prune as prune

    return prune(now=timezone.now())


@shared_task(bind=True, acks_late=True)
def premises_import(self, *, job_id: str, path: str, dry_run: bool, user_id: int | None) -> dict:
    """Import an uploaded premises register. Idempotent: a re-run of the same file changes nothing."""
    from consent.importer import import_job_run

    return import_job_run(job_id=job_id, path=path, dry_run=dry_run, user_id=user_id)


@shared_task(bind=True, max_retries=BOOST_MAX_RETRIES, acks_late=True)
def boost_button_remove(self, hcalcs_id: int) -> str:
    """Send SRV 7.10 for an HCALCS whose customer no longer allows override. Idempotent: skips
    one already off; a retry reuses the stored request."""
    from consent.boost import BoostTransientError, boost_button_removal_send

    try:
        return boost_button_removal_send(hcalcs_id=hcalcs_id)
    except BoostTransientError as exc:
        raise self.retry(exc=exc, countdown=backoff_seconds(self.request.retries, base=30, cap=RETRY_CAP_S)) from exc


@shared_task(bind=True, max_retries=BOOST_MAX_RETRIES, acks_late=True)
def boost_button_setup(self, hcalcs_id: int) -> str:
    """Send SRV 7.9 to a charger ahead of any event. Idempotent: skips one already on or
    awaiting the device; a retry reuses the stored request."""
    from consent.boost import BoostTransientError, boost_button_setup_send

    try:
        return boost_button_setup_send(hcalcs_id=hcalcs_id)
    except BoostTransientError as exc:
        raise self.retry(exc=exc, countdown=backoff_seconds(self.request.retries, base=30, cap=RETRY_CAP_S)) from exc


@shared_task(bind=True, max_retries=BOOST_MAX_RETRIES, acks_late=True)
def boost_details_read(self, hcalcs_id: int, user_id: int | None) -> str:
    """Send SRV 7.11 for the premise page; a read, so a repeat is harmless."""
    from django.contrib.auth.models import User

    from consent.boost import boost_details_request
    from consent.models import HCALCS

    hcalcs = HCALCS.objects.select_related("meter").filter(pk=hcalcs_id).first()
    if hcalcs is None:
        return "gone"
    user = User.objects.filter(pk=user_id).first() if user_id else None
    try:
        return boost_details_request(hcalcs=hcalcs, requested_by=user).state
    except DccTransientError as exc:
        raise self.retry(exc=exc, countdown=backoff_seconds(self.request.retries, base=10, cap=RETRY_CAP_S)) from exc


@shared_task(expires=3000)
def boost_button_reconcile() -> int:
    """Beat: re-queue 7.10 and 7.9 where the boost button disagrees with the consent, a bounded
    batch per run. Idempotent: both tasks skip a request already accepted."""
    from consent.boost import hcalcs_awaiting_boost_removal_ids, hcalcs_awaiting_boost_setup_ids

    removals = hcalcs_awaiting_boost_removal_ids()
    for hcalcs_id in removals:
        boost_button_remove.delay(hcalcs_id)
    setups = hcalcs_awaiting_boost_setup_ids()
    for hcalcs_id in setups:
        boost_button_setup.delay(hcalcs_id)
    return len(removals) + len(setups)


app.conf.beat_schedule.update(
    {
        "consent.boost_button_reconcile": {
            "task": "consent.tasks.boost_button_reconcile",
            "schedule": 3600.0,
        },
        "consent.notifications_send_due": {
            "task": "consent.tasks.notifications_send_due",
            "schedule": 300.0,
        },
        "consent.halfhour_prune": {
            "task": "consent.tasks.halfhour_prune",
            "schedule": 3600.0,
        },
    }
)
