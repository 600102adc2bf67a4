"""Feeder services: monitor tokens, status, the offline sweep and the operator's changes."""

from __future__ import annotations

import logging
import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from core.audit import audit_record, changes_between
from core.push import feeder_group, push_on_commit
from core.times import iso_utc
from feeders.choices import FeederStatus
from feeders.events import (
    FeederStatusPayload,
    FeederUpdatedPayload,
    status_pushed,
    updated_pushed,
)
from feeders.hooks import feeders_curtailing
from feeders.models import Feeder, FeederAlert, MonitorToken
from feeders.selectors import token_sha256

logger = logging.getLogger(__name__)


def monitor_token_issue(*, name: str, monitor_device_id: str | None = None) -> str:
    """Return the token's plaintext, once: only its SHA-256 is stored."""
    token = secrets.token_urlsafe(32)
    record = MonitorToken(name=name, token_sha256=token_sha256(token), monitor_device_id=monitor_device_id or None)
    record.full_clean()
    record.save()
    return token


def feeder_status_set(*, feeder: Feeder, status: str) -> bool:
    """Compare-and-set, so repeated calls are harmless; pushes ``feeder.status`` on commit."""
    if status not in FeederStatus.values:
        raise ValueError(f"unknown feeder status {status!r}")
    with transaction.atomic():
        current = Feeder.objects.select_for_update().filter(pk=feeder.pk).values_list("status", flat=True).first()
        if current is None or current == status:
            return False
        Feeder.objects.filter(pk=feeder.pk, status=current).update(status=status)
        feeder.status = status
        fresh = Feeder.objects.filter(pk=feeder.pk).values("code", "last_reading_at", "last_load_percent").get()
        status_pushed(
            FeederStatusPayload(
                feeder_id=feeder.pk,
                code=fresh["code"],
                status=status,
                previous_status=current,
                last_reading_at=iso_utc(fresh["last_reading_at"]),
                load_percent=fresh["last_load_percent"],
            )
        )
    return True


def feeders_offline_sweep(*, now: datetime | None = None) -> list[int]:
    """Mark offline every feeder with no recent reading: a silent monitor must never leave a
    feeder looking healthy. Compare-and-set per feeder, so a reading arriving during the sweep
    wins."""
    now = now or timezone.now()
    cutoff = now - timedelta(minutes=settings.DNOCTL["OFFLINE_AFTER_MINUTES"])
    candidates = Feeder.objects.exclude(status=FeederStatus.OFFLINE).filter(
        Q(last_reading_at__lt=cutoff) | Q(last_reading_at__isnull=True)
    )
    marked = []
    for feeder_id, code, old_status, last_reading_at, load in candidates.values_list(
        "id", "code", "status", "last_reading_at", "last_load_percent"
    ):
        with transaction.atomic():
            changed = Feeder.objects.filter(pk=feeder_id, status=old_status, last_reading_at=last_reading_at).update(
                status=FeederStatus.OFFLINE
            )
            if not changed:
                continue
            marked.append(feeder_id)
            status_pushed(
                FeederStatusPayload(
                    feeder_id=feeder_id,
                    code=code,
                    status=FeederStatus.OFFLINE,
                    previous_status=old_status,
                    last_reading_at=iso_utc(last_reading_at),
                    load_percent=load,
                )
            )
    return marked


def feeder_status_refresh(*, feeder: Feeder, now: datetime | None = None) -> str:
    """Re-derive the status from the database, for the engine to call when an event ends."""
    now = now or timezone.now()
    fresh = Feeder.objects.get(pk=feeder.pk)
    offline_after = timedelta(minutes=settings.DNOCTL["OFFLINE_AFTER_MINUTES"])
    if fresh.last_reading_at is None or now - fresh.last_reading_at > offline_after:
        status = FeederStatus.OFFLINE
    elif feeders_curtailing([fresh.pk]):
        status = FeederStatus.CURTAILING
    elif FeederAlert.objects.filter(feeder_id=fresh.pk, cleared_at__isnull=True).exists():
        status = FeederStatus.AT_RISK
    else:
        status = FeederStatus.NORMAL
    feeder_status_set(feeder=feeder, status=status)
    return status


# --- operator changes ----------------------------------------------------------------------


def feeder_automatic_set(*, feeder: Feeder, enabled: bool, reason: str, changed_by) -> bool:
    """Turn automatic curtailment on or off, audited; compare-and-set, so a second click does nothing."""
    with transaction.atomic():
        changed = Feeder.objects.filter(pk=feeder.pk, automatic_curtailment=not enabled).update(
            automatic_curtailment=enabled
        )
        if not changed:
            return False
        feeder.automatic_curtailment = enabled
        audit_record(
            action="feeder.automatic_on" if enabled else "feeder.automatic_off",
            actor_user=changed_by,
            target=feeder,
            reason=reason,
            inputs={"feeder": feeder.code, "automatic_curtailment": enabled},
            changes=changes_between({"automatic_curtailment": not enabled}, {"automatic_curtailment": enabled}),
        )
        updated_pushed(
            FeederUpdatedPayload(
                feeder_id=feeder.pk,
                code=feeder.code,
                change="automatic_curtailment",
                automatic_curtailment=enabled,
                alert_id=None,
                acknowledged_at=None,
            )
        )
        push_on_commit(
            [feeder_group(feeder.pk)],
            "control.feeder_configured",
            {
                "feeder_id": feeder.pk,
                "automatic_curtailment": enabled,
                "actor": changed_by.get_username(),
                "reason": reason,
            },
        )
    return True


def alert_acknowledge(
    *,
    alert: FeederAlert,
    reason: str,
    acknowledged_by,
    via: str = "feeder page",
    escalated_at: datetime | None = None,
    now: datetime | None = None,
) -> bool:
    """Record that the control room has seen the alert, audited; compare-and-set, so two
    operators clicking at once record one. An acknowledgement older than ``escalated_at`` is
    taken again."""
    now = now or timezone.now()
    pending = Q(acknowledged_at__isnull=True)
    if escalated_at is not None:
        pending |= Q(acknowledged_at__lt=escalated_at)
    with transaction.atomic():
        changed = FeederAlert.objects.filter(pending, pk=alert.pk).update(
            acknowledged_at=now, acknowledged_by=acknowledged_by
        )
        if not changed:
            return False
        alert.acknowledged_at, alert.acknowledged_by = now, acknowledged_by
        feeder = Feeder.objects.only("code", "automatic_curtailment").get(pk=alert.feeder_id)
        audit_record(
            action="alert.acknowledge",
            actor_user=acknowledged_by,
            target=alert,
            reason=reason,
            inputs={
                "feeder": feeder.code,
                "alert_id": alert.pk,
                "kind": alert.kind,
                "via": via,
                "escalated_at": iso_utc(escalated_at) if escalated_at else None,
            },
        )
        updated_pushed(
            FeederUpdatedPayload(
                feeder_id=alert.feeder_id,
                code=feeder.code,
                change="alert_acknowledged",
                automatic_curtailment=feeder.automatic_curtailment,
                alert_id=alert.pk,
                acknowledged_at=iso_utc(now),
            )
        )
        push_on_commit(
            [feeder_group(alert.feeder_id)],
            "control.alert_acknowledged",
            {"feeder_id": alert.feeder_id, "alert_id": alert.pk, "actor": acknowledged_by.get_username()},
        )
    return True
