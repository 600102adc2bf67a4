"""Celery tasks of the consent app: notification delivery, digests, half-hourly profile
retention, premises import and boost-button setup and removal (SRV 7.9, 7.10).

Tasks take ids, re-read the rows and call a service; each docstring says how it stays
idempotent. The beat schedule below is registered on import (the worker and beat both
import this module through ``autodiscover_tasks``).
"""

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
    """Deliver one notice. Idempotent: a notice already sent (or being sent by another
    worker) is skipped. A transient failure is retried after the delay the service recorded
    in the row (exponential backoff) plus jitter; the row counts the attempts and marks the
    notice ``gave_up`` after ``consent.notifications.MAX_ATTEMPTS``, so the cap holds even
    when the beat task re-queues a retry that a crashed worker lost."""
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
    """Beat: queue every notice whose time has come (digests, statements, and single notices
    whose on-commit send was lost). Idempotent: ``notification_send`` skips sent rows."""
    from consent.notifications import notification_due_ids

    due = notification_due_ids(now=timezone.now())
    for notification_id in due:
        notification_send.delay(notification_id)
    return len(due)


@shared_task(expires=3000)
def halfhour_prune() -> int:
    """Beat: delete half-hourly profile data older than three months (the meter's own log
    keeps no more). Idempotent: deleting what is already gone deletes nothing."""
    from consent.profiles import halfhour_prune as prune

    return prune(now=timezone.now())


@shared_task(bind=True, acks_late=True)
def premises_import(self, *, job_id: str, path: str, dry_run: bool, user_id: int | None) -> dict:
    """Import an uploaded premises register (all-or-nothing), reporting progress in the
    cache under ``job_id``. Idempotent: a re-run of the same file changes nothing."""
    from consent.importer import import_job_run

    return import_job_run(job_id=job_id, path=path, dry_run=dry_run, user_id=user_id)


@shared_task(bind=True, max_retries=BOOST_MAX_RETRIES, acks_late=True)
def boost_button_remove(self, hcalcs_id: int) -> str:
    """Send SRV 7.10 (remove from the boost button) for an HCALCS whose customer no longer
    allows overriding. Idempotent: an HCALCS already off the boost button, or whose
    consent allows override again, is skipped; a retry reuses the stored request."""
    from consent.boost import BoostTransientError, boost_button_removal_send

    try:
        return boost_button_removal_send(hcalcs_id=hcalcs_id)
    except BoostTransientError as exc:
        raise self.retry(exc=exc, countdown=backoff_seconds(self.request.retries, base=30, cap=RETRY_CAP_S)) from exc


@shared_task(bind=True, max_retries=BOOST_MAX_RETRIES, acks_late=True)
def boost_button_setup(self, hcalcs_id: int) -> str:
    """Send SRV 7.9 (add to the boost button) to a charger ahead of any event. Idempotent:
    a charger already on the boost button, no longer eligible, or with a 7.9 accepted and
    awaiting the device is skipped; a retry reuses the stored request."""
    from consent.boost import BoostTransientError, boost_button_setup_send

    try:
        return boost_button_setup_send(hcalcs_id=hcalcs_id)
    except BoostTransientError as exc:
        raise self.retry(exc=exc, countdown=backoff_seconds(self.request.retries, base=30, cap=RETRY_CAP_S)) from exc


@shared_task(bind=True, max_retries=BOOST_MAX_RETRIES, acks_late=True)
def boost_details_read(self, hcalcs_id: int, user_id: int | None) -> str:
    """Send SRV 7.11 (read boost-button details) for the premise page. A read, so a
    repeat is harmless; the device's answer is cached by ``consent.boost.on_device_response``."""
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
    """Beat: queue 7.10 again for every HCALCS still on the boost button although its
    customer forbids override (the earlier 7.10 failed or was rejected), and 7.9 for
    chargers whose customer may override that are not on it yet (a bounded batch per run).
    Idempotent: both tasks skip an HCALCS whose request is already accepted."""
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
