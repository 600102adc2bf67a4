"""The DCC command budget: the anomaly detection thresholds (ADT) dnoctl plans under. A quarantined 7.6
protects nobody, so selection skips what the budget cannot pay for; every stored request counts,
plus what planned actions will send."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.conf import settings
from django.db.models import Count, Exists, OuterRef, Q

from curtailment.choices import ActionKind, ActionStatus
from curtailment.models import CurtailmentAction
from dcc.models import ServiceRequest

PERIODS = {"hour": dt.timedelta(hours=1), "day": dt.timedelta(days=1)}
# Actions that will still send their 7.6 (and 7.9) if it is not stored yet.
UNSENT_ACTION_STATES = [ActionStatus.PLANNED, ActionStatus.BOOST_SETUP, ActionStatus.SENT]


def budget_limits() -> dict[str, dict[str, int]]:
    return settings.DNOCTL["DCC_BUDGET"]


def alarm_percent() -> float:
    return float(settings.DNOCTL["DCC_BUDGET_ALARM_PERCENT"])


@dataclass(frozen=True)
class BudgetLine:
    """One SRV's use of one period's threshold."""

    srv: str
    period: str
    limit: int
    sent: int
    reserved: int

    @property
    def used(self) -> int:
        return self.sent + self.reserved

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.used)

    @property
    def percent(self) -> float:
        return 100.0 * self.used / self.limit

    @property
    def alarming(self) -> bool:
        return self.percent >= alarm_percent()

    def as_inputs(self) -> dict:
        return {
            "srv": self.srv,
            "period": self.period,
            "limit": self.limit,
            "sent": self.sent,
            "reserved": self.reserved,
            "percent": round(self.percent, 1),
        }


@dataclass
class CommandBudget:
    """The budget as selection spends it: ``take`` what a pick will send, or learn why not."""

    lines: list[BudgetLine]
    taken: dict[str, int] = field(default_factory=dict)

    def remaining(self, srv: str) -> int | None:
        """Commands of ``srv`` still allowed in every period; None when it has no threshold."""
        mine = [line.remaining for line in self.lines if line.srv == srv]
        return None if not mine else min(mine) - self.taken.get(srv, 0)

    def refusal(self, needs: dict[str, int]) -> str | None:
        """Why these commands cannot be sent now (naming the SRV and period), or None."""
        for srv, count in needs.items():
            left = self.remaining(srv)
            if left is not None and left < count:
                full = min((line for line in self.lines if line.srv == srv), key=lambda line: line.remaining)
                return (
                    f"DCC command budget (ADT) for {srv} reached: {full.used + self.taken.get(srv, 0)} of "
                    f"{full.limit} this {full.period}; deferred"
                )
        return None

    def take(self, needs: dict[str, int]) -> None:
        for srv, count in needs.items():
            self.taken[srv] = self.taken.get(srv, 0) + count


def commands_needed(*, override_allowed: bool, on_boost_button: bool, limit: bool = False) -> dict[str, int]:
    """What dispatching one charger sends: a 7.6 or 7.16, after a 7.9 when the customer may override."""
    needs = {"7.16" if limit else "7.6": 1}
    if override_allowed and not on_boost_button:
        needs["7.9"] = 1
    return needs


def command_budget(*, at: dt.datetime) -> CommandBudget:
    """Every threshold with what was sent within its window and what planned actions will send."""
    limits = budget_limits()
    if not limits:
        return CommandBudget(lines=[])
    counts = {
        row["srv"]: row
        for row in ServiceRequest.objects.filter(srv__in=list(limits), created_at__gt=at - PERIODS["day"])
        .values("srv")
        .annotate(hour=Count("pk", filter=Q(created_at__gt=at - PERIODS["hour"])), day=Count("pk"))
    }
    reserved = _reserved()
    lines = [
        BudgetLine(
            srv=srv,
            period=period,
            limit=limit,
            sent=int(counts.get(srv, {}).get(period, 0)),
            reserved=reserved.get(srv, 0),
        )
        for srv, per_period in limits.items()
        for period, limit in per_period.items()
        if period in PERIODS
    ]
    return CommandBudget(lines=lines)


def _reserved() -> dict[str, int]:
    unsent = CurtailmentAction.objects.filter(status__in=UNSENT_ACTION_STATES)
    stored = ServiceRequest.objects.filter(action_id=OuterRef("pk"))
    counts = unsent.aggregate(
        deactivate=Count("pk", filter=Q(kind=ActionKind.SWITCH_OFF) & ~Exists(stored.filter(srv="7.6"))),
        limit=Count("pk", filter=Q(kind=ActionKind.LIMIT) & ~Exists(stored.filter(srv="7.16"))),
    )
    boost = (
        unsent.filter(selection__override_allowed=True, hcalcs__on_boost_button=False)
        .exclude(Exists(stored.filter(srv="7.9")))
        .count()
    )
    return {"7.6": counts["deactivate"], "7.16": counts["limit"], "7.9": boost}
