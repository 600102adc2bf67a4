from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Q, QuerySet

from core.choices import action_current, action_legacy_names
from core.models import AuditEntry
from core.times import london_midnight_utc


def audit_entries_filtered(*, filters: dict[str, Any]) -> QuerySet[AuditEntry]:
    """``since``/``until`` are Europe/London days, so a 23 h or 25 h day is still one day."""
    entries = AuditEntry.objects.all()
    if filters["actor"]:
        entries = entries.filter(actor__icontains=filters["actor"])
    if filters["action"]:
        # Entries written under a former name are found by their current name.
        legacy = action_legacy_names(filters["action"])
        entries = entries.filter(Q(action__startswith=filters["action"]) | Q(action__in=legacy))
    if filters["target"]:
        kind, _, target_id = filters["target"].partition(":")
        entries = entries.filter(target_type__icontains=kind)
        if target_id:
            entries = entries.filter(target_id=target_id)
    if filters["q"]:
        entries = entries.filter(Q(reason__icontains=filters["q"]) | Q(action__icontains=filters["q"]))
    if filters["since"]:
        entries = entries.filter(at__gte=london_midnight_utc(filters["since"]))
    if filters["until"]:
        entries = entries.filter(at__lt=london_midnight_utc(filters["until"] + dt.timedelta(days=1)))
    return entries


def audit_actions_recorded(*, limit: int = 200) -> list[str]:
    stored = AuditEntry.objects.order_by("action").values_list("action", flat=True).distinct()[:limit]
    return sorted({action_current(name) for name in stored})


def audit_entries_of(*, target_type: str, target_id: int | str, limit: int = 100) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(target_type=target_type, target_id=str(target_id))[:limit])
