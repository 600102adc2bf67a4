"""The audit trail service (invariant 6): every operator action and automatic decision."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from django.db import models
from django.utils import timezone

from core.choices import action_check
from core.models import AuditEntry
from core.request_id import request_id_get


def audit_record(
    *,
    action: str,
    actor_user=None,
    rule: str | None = None,
    target: models.Model | None = None,
    reason: str = "",
    inputs: dict[str, Any] | None = None,
    changes: dict[str, dict[str, Any]] | None = None,
) -> AuditEntry:
    """Append an audit entry by ``actor_user`` or ``rule``; ``inputs`` hold identifiers, never
    names or contact details."""
    if (actor_user is None) == (rule is None):
        raise ValueError("audit_record needs exactly one of actor_user or rule")
    action_check(action)
    actor = f"rule:{rule}" if rule else actor_user.get_username()
    return AuditEntry.objects.create(
        at=timezone.now(),
        actor_user=actor_user,
        actor=actor,
        action=action,
        target_type=target._meta.label_lower if target is not None else "",
        target_id=str(target.pk) if target is not None else "",
        reason=reason,
        inputs=inputs or {},
        request_id=request_id_get(),
        changes=changes or None,
    )


def changes_between(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """``{field: {"before": .., "after": ..}}`` for each changed field, as JSON."""
    return {
        field: {"before": json_plain(before.get(field)), "after": json_plain(after.get(field))}
        for field in sorted(set(before) | set(after))
        if before.get(field) != after.get(field)
    }


def json_plain(value: Any) -> Any:
    if isinstance(value, models.Model):
        return value.pk
    if isinstance(value, models.QuerySet | list | tuple | set):
        return sorted(json_plain(item) for item in value)
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def audit_record_once(
    *, action: str, rule: str, target: models.Model, reason: str, inputs: dict[str, Any] | None = None
) -> AuditEntry | None:
    """:func:`audit_record` unless the rule's latest entry on the target is the same decision,
    so a check repeated every few seconds records changes, not repeats."""
    latest = (
        AuditEntry.objects.filter(target_type=target._meta.label_lower, target_id=str(target.pk), actor=f"rule:{rule}")
        .order_by("-at", "-id")
        .values_list("action", "reason")
        .first()
    )
    if latest == (action, reason):
        return None
    return audit_record(action=action, rule=rule, target=target, reason=reason, inputs=inputs)
