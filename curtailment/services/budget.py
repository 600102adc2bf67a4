"""Alarms on the DCC command budget (ADT), so operators can act while there is room left."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from core.audit import audit_record
from core.models import AuditEntry
from curtailment.budget import PERIODS, BudgetLine, alarm_percent, command_budget
from curtailment.events import protection_budget_payload, protection_budget_pushed

BUDGET_RULE = "dcc-budget"


def dcc_budget_check(*, now: dt.datetime | None = None) -> list[BudgetLine]:
    """Audit each SRV and period past the alarm level (once per level and period) and push the budget while alarming."""
    now = now or timezone.now()
    budget = command_budget(at=now)
    alarming = [line for line in budget.lines if line.alarming]
    for line in alarming:
        reached = line.remaining == 0
        action = "dcc_budget.reached" if reached else "dcc_budget.alarm"
        already = AuditEntry.objects.filter(
            action=action,
            at__gte=timezone.now() - PERIODS[line.period],
            inputs__srv=line.srv,
            inputs__period=line.period,
        ).exists()
        if already:
            continue
        audit_record(
            action=action,
            rule=BUDGET_RULE,
            reason=(
                f"{line.srv}: {line.used} of {line.limit} commands this {line.period} "
                + (
                    "(the DCC's anomaly detection threshold): further chargers are deferred"
                    if reached
                    else f"({line.percent:.0f}%, alarm at {alarm_percent():.0f}%)"
                )
            ),
            inputs=line.as_inputs(),
        )
    if alarming:
        protection_budget_pushed(protection_budget_payload(budget.lines, alarm_percent=alarm_percent()))
    return alarming
