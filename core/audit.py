"""The audit trail service (invariant 6): one call for every operator action and every
automatic decision."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.utils import timezone

from core.models import AuditEntry


def audit_record(
    *,
    action: str,
    actor_user=None,
    rule: str | None = None,
    target: models.Model | None = None,
    reason: str = "",
    inputs: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append an audit entry. Give either ``actor_user`` (an operator) or ``rule`` (the
    automatic rule that decided, e.g. ``"auto-curtail"``).

    ``inputs`` must be JSON-serialisable and hold identifiers (MPANs, EUI-64s, ids), loads
    and thresholds, never names or contact details.
    """
    if (actor_user is None) == (rule is None):
        raise ValueError("audit_record needs exactly one of actor_user or rule")
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
    )


def audit_record_once(
    *, action: str, rule: str, target: models.Model, reason: str, inputs: dict[str, Any] | None = None
) -> AuditEntry | None:
    """:func:`audit_record` unless the target's latest entry by this rule is the same decision
    (same action and reason). A check repeated every few seconds (the minute re-check, the
    protection check) records a decision when it changes, not every time it is taken again."""
    latest = (
        AuditEntry.objects.filter(target_type=target._meta.label_lower, target_id=str(target.pk), actor=f"rule:{rule}")
        .order_by("-at", "-id")
        .values_list("action", "reason")
        .first()
    )
    if latest == (action, reason):
        return None
    return audit_record(action=action, rule=rule, target=target, reason=reason, inputs=inputs)
