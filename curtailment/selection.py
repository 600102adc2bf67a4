"""Which chargers to curtail, for how long, and why (R2, R4, R6, NF1, NF3, NF11, NF12).
``selection_plan`` is pure over ``selection_candidates``, so the policy is easy to test and each
decision is audited with its reasons."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace

from django.conf import settings

from curtailment.allocation import (
    Allocation,
    ApcCharger,
    HcalcsCandidate,
    LimitChange,
    allocation_audit_inputs,
    allocation_plan,
    limits_reconcile,
)
from curtailment.budget import CommandBudget, commands_needed
from curtailment.selectors import (
    hcalcs_eligible_for_curtailment,
    hcalcs_ineligibility,
    hcalcs_reachability,
    mpan_recent_kw,
)
from curtailment.usage import hcalcs_allowance

# The DCC bounds one 7.6 duration; the model checks the same bound.
MAX_ACTION_MINUTES = 120


@dataclass(frozen=True)
class Candidate:
    """One eligible charger with what the policy weighs."""

    hcalcs_id: int
    eui64: str
    switch_index: int
    mpan_id: int | None
    customer_id: int | None
    override_allowed: bool
    on_boost_button: bool
    rated_kw: float
    expected_kw: float
    used_24h: int
    used_30d: int
    allowance: int
    reachability: int
    poor_wan: bool
    is_apc: bool = False


@dataclass(frozen=True)
class Limited:
    """An APC charger the event holds to a level now: lowered as the load moves rather than adding chargers."""

    action_id: int
    hcalcs_id: int
    max_kw: float
    demand_kw: float
    level: int
    reduction_kw: float


@dataclass(frozen=True)
class Limit:
    """What a limit pick commands: the level and the draw it was computed from."""

    level: int
    demand_kw: float


@dataclass(frozen=True)
class Decision:
    """Why a charger was picked or skipped (written to the audit trail)."""

    hcalcs_id: int
    picked: bool
    reason: str
    minutes: int = 0
    expected_kw: float = 0.0
    deferred: bool = False  # skipped for the DCC command budget: picked again when it frees up


@dataclass(frozen=True)
class Plan:
    picks: list[tuple[Candidate, int]]
    decisions: list[Decision]
    covered_kw: float
    required_kw: float
    # APC picks (by charger): their level; a pick not here is switched off.
    limits: dict[int, Limit] = field(default_factory=dict)
    # 7.16s moving chargers already limited to the new allocation (by action id), each with
    # the reduction its new level gives.
    changes: dict[int, tuple[LimitChange, float]] = field(default_factory=dict)
    allocation: dict | None = None

    @property
    def shortfall_kw(self) -> float:
        return max(0.0, self.required_kw - self.covered_kw)

    @property
    def deferred(self) -> int:
        """Chargers skipped only because the DCC command budget is spent."""
        return sum(1 for decision in self.decisions if decision.deferred)


def rotation_minutes() -> int:
    """The most minutes one action holds a charger within a long event, so no home carries the whole event."""
    return int(settings.DNOCTL["ROTATION_MINUTES"])


def selection_order_key(candidate: Candidate) -> tuple:
    return (candidate.used_30d, -candidate.reachability, -candidate.expected_kw, candidate.hcalcs_id)


def apc_guaranteed_min_kw() -> float:
    return float(settings.DNOCTL["APC_GUARANTEED_MIN_KW"])


def selection_plan(
    *,
    candidates: Iterable[Candidate],
    required_kw: float,
    event_minutes: int,
    budget: CommandBudget | None = None,
    limited: Iterable[Limited] = (),
) -> Plan:
    """Meet ``required_kw`` fairly via ``allocation_plan``, re-allocating the chargers ``limited`` now;
    a charger the DCC ``budget`` refuses is deferred and the plan made again."""
    min_useful = int(settings.DNOCTL["MIN_USEFUL_MINUTES"])
    slot = min(event_minutes, rotation_minutes(), MAX_ACTION_MINUTES)
    limited = list(limited)
    decisions: list[Decision] = []
    usable: dict[int, tuple[Candidate, int]] = {}
    for candidate in sorted(candidates, key=selection_order_key):
        minutes = min(slot, candidate.allowance)
        skipped = _skip_reason(candidate, minutes=minutes, min_useful=min_useful)
        if skipped:
            decisions.append(Decision(candidate.hcalcs_id, False, skipped))
        else:
            usable[candidate.hcalcs_id] = (candidate, minutes)
    for x in limited:
        usable.pop(x.hcalcs_id, None)  # a charger limited now is re-allocated as such, not picked anew
    held_kw = sum(x.reduction_kw for x in limited)
    need_kw = max(0.0, required_kw + held_kw)
    if budget is not None and not limited and need_kw > 0:
        decisions += _defer_all_spent(usable, budget)
    while True:
        allocation = _allocate(usable=usable, limited=limited, need_kw=need_kw)
        picks = _picks(usable=usable, allocation=allocation)
        refused = _budget_refusals(picks, budget)
        if not refused:
            break
        for charger_id, reason in refused.items():
            usable.pop(charger_id)
            decisions.append(Decision(charger_id, False, reason, deferred=True))
    if budget is not None:
        for candidate, _minutes, _kw in picks:
            budget.take(_commands(candidate))
    return _plan_from(
        allocation=allocation,
        picks=picks,
        usable=usable,
        limited=limited,
        decisions=decisions,
        required_kw=required_kw,
        held_kw=held_kw,
    )


def _defer_all_spent(usable: dict[int, tuple[Candidate, int]], budget: CommandBudget) -> list[Decision]:
    """When the budget refuses every usable charger's commands outright (a spent budget), the
    refuse-and-reallocate loop would defer, one allocation at a time, every charger any
    allocation can pick: defer them in one pass instead (one allocation asking for all they
    give), leaving in ``usable`` only the chargers no allocation picks. Nothing otherwise."""
    by_kind: dict[tuple[bool, bool, bool], str | None] = {}  # what a charger sends depends on these
    refusals: dict[int, str] = {}
    for hcalcs_id, (candidate, _m) in usable.items():
        kind = (candidate.override_allowed, candidate.on_boost_button, candidate.is_apc)
        if kind not in by_kind:
            by_kind[kind] = budget.refusal(_commands(candidate))
        if by_kind[kind] is None:
            return []
        refusals[hcalcs_id] = by_kind[kind]
    if not usable:
        return []
    everything_kw = sum(max(c.rated_kw, c.expected_kw) for c, _m in usable.values()) + 1.0
    allocation = _allocate(usable=usable, limited=[], need_kw=everything_kw)
    deferred = []
    for candidate, _minutes, _kw in _picks(usable=usable, allocation=allocation):
        usable.pop(candidate.hcalcs_id)
        deferred.append(Decision(candidate.hcalcs_id, False, refusals[candidate.hcalcs_id], deferred=True))
    return deferred


def _allocate(*, usable: dict[int, tuple[Candidate, int]], limited: list[Limited], need_kw: float) -> Allocation:
    apc = [
        ApcCharger(c.hcalcs_id, max_kw=c.rated_kw, demand_kw=min(c.expected_kw, c.rated_kw))
        for c, _m in usable.values()
        if c.is_apc
    ] + [ApcCharger(x.hcalcs_id, max_kw=x.max_kw, demand_kw=x.demand_kw) for x in limited]
    hcalcs = [
        HcalcsCandidate(c.hcalcs_id, kw=c.expected_kw, used_minutes_30d=c.used_30d, used_minutes_24h=c.used_24h)
        for c, _m in usable.values()
        if not c.is_apc
    ]
    return allocation_plan(required_kw=need_kw, apc=apc, hcalcs=hcalcs, guaranteed_min_kw=apc_guaranteed_min_kw())


def _picks(*, usable: dict[int, tuple[Candidate, int]], allocation: Allocation) -> list[tuple[Candidate, int, float]]:
    limits = [(limit.charger_id, limit.reduction_kw) for limit in allocation.limits if limit.charger_id in usable]
    offs = [(charger_id, usable[charger_id][0].expected_kw) for charger_id in allocation.switched_off]
    return [(*usable[charger_id], kw) for charger_id, kw in limits + offs]


def _commands(candidate: Candidate) -> dict[str, int]:
    return commands_needed(
        override_allowed=candidate.override_allowed, on_boost_button=candidate.on_boost_button, limit=candidate.is_apc
    )


def _budget_refusals(picks: list[tuple[Candidate, int, float]], budget: CommandBudget | None) -> dict[int, str]:
    """The picks the budget cannot pay for, in pick order, tried on a copy of it."""
    if budget is None:
        return {}
    trial = replace(budget, taken=dict(budget.taken))
    refused = {}
    for candidate, _minutes, _kw in picks:
        needs = _commands(candidate)
        reason = trial.refusal(needs)
        if reason:
            refused[candidate.hcalcs_id] = reason
        else:
            trial.take(needs)
    return refused


def _plan_from(
    *,
    allocation: Allocation,
    picks: list[tuple[Candidate, int, float]],
    usable: dict[int, tuple[Candidate, int]],
    limited: list[Limited],
    decisions: list[Decision],
    required_kw: float,
    held_kw: float,
) -> Plan:
    by_charger = {x.hcalcs_id: x for x in limited}
    kept = {limit.charger_id: limit for limit in allocation.limits}
    changes = {
        by_charger[change.charger_id].action_id: (
            change,
            kept[change.charger_id].reduction_kw if change.charger_id in kept else 0.0,
        )
        for change in limits_reconcile(current={x.hcalcs_id: x.level for x in limited}, allocation=allocation)
        if change.charger_id in by_charger and change.change != "set"
    }
    # What the chargers limited now give once changed (a lift gives nothing; a raise too
    # small to send keeps the present level and its reduction).
    covered = sum(changes[x.action_id][1] if x.action_id in changes else x.reduction_kw for x in limited) - held_kw
    limits: dict[int, Limit] = {}
    picked = set()
    for candidate, minutes, kw in picks:
        picked.add(candidate.hcalcs_id)
        covered += kw
        what = "switched off"
        if candidate.is_apc:
            limit = kept[candidate.hcalcs_id]
            limits[candidate.hcalcs_id] = Limit(
                level=limit.level, demand_kw=min(candidate.expected_kw, candidate.rated_kw)
            )
            what = f"limited to {limit.level} % ({limit.limit_kw:.2f} kW)"
        decisions.append(
            Decision(
                candidate.hcalcs_id,
                True,
                f"{what}: used {candidate.used_30d} min in 30 d, reachability {candidate.reachability}, "
                f"{kw:.1f} kW withheld",
                minutes,
                kw,
            )
        )
    for candidate, _minutes in usable.values():
        if candidate.hcalcs_id not in picked:
            decisions.append(
                Decision(
                    candidate.hcalcs_id,
                    False,
                    "required reduction already covered"
                    if candidate.is_apc or allocation.shortfall_kw <= 0
                    else "fewer switch-offs cover it",
                )
            )
    return Plan(
        picks=[(replace(candidate, expected_kw=kw), minutes) for candidate, minutes, kw in picks],
        decisions=decisions,
        covered_kw=covered,
        required_kw=required_kw,
        limits=limits,
        changes=changes,
        allocation=allocation_audit_inputs(allocation),
    )


def _skip_reason(candidate: Candidate, *, minutes: int, min_useful: int) -> str:
    if candidate.allowance < min_useful:
        return (
            f"allowance {candidate.allowance} min below {min_useful} "
            f"(used {candidate.used_24h}/24 h, {candidate.used_30d}/30 d)"
        )
    if minutes < 1:
        return "no minutes left in the event"
    if candidate.expected_kw <= 0:
        return "not drawing power now"
    return ""


def selection_candidates(
    *, feeder, at: dt.datetime, exclude_hcalcs_ids: Iterable[int] = (), exclude_event_id: int | None = None
) -> tuple[list[Candidate], dict[int, str]]:
    """Eligible chargers with allowance, reachability and expected kW, and why the others are not."""
    excluded = set(exclude_hcalcs_ids)
    rows = [h for h in hcalcs_eligible_for_curtailment(feeder=feeder, at=at) if h.pk not in excluded]
    ids = [h.pk for h in rows]
    allowance = hcalcs_allowance(hcalcs_ids=ids, at=at)
    reach = hcalcs_reachability(hcalcs_ids=ids, at=at)
    drawing = mpan_recent_kw(mpan_ids=[h.mpan_id for h in rows], at=at)
    candidates = []
    for h in rows:
        expected = h.rated_kw
        if h.mpan_id in drawing:
            expected = min(expected, drawing[h.mpan_id])
        candidates.append(
            Candidate(
                hcalcs_id=h.pk,
                eui64=h.eui64,
                switch_index=h.switch_index,
                mpan_id=h.mpan_id,
                customer_id=h.customer_id,
                override_allowed=bool(h.override_allowed),
                on_boost_button=h.on_boost_button,
                rated_kw=h.rated_kw,
                expected_kw=expected,
                used_24h=allowance[h.pk].used_24h,
                used_30d=allowance[h.pk].used_30d,
                allowance=allowance[h.pk].minutes,
                reachability=reach[h.pk].score,
                poor_wan=reach[h.pk].poor_wan,
                is_apc=h.is_apc,
            )
        )
    ineligible = hcalcs_ineligibility(feeder=feeder, at=at, exclude_ids=set(ids) | excluded)
    return candidates, ineligible


def plan_audit_inputs(plan: Plan, ineligible: dict[int, str]) -> dict:
    return {
        "required_kw": round(plan.required_kw, 3),
        "covered_kw": round(plan.covered_kw, 3),
        "shortfall_kw": round(plan.shortfall_kw, 3),
        "deferred_by_dcc_budget": plan.deferred,
        "candidates": [asdict(d) for d in plan.decisions],
        **({"allocation": plan.allocation} if plan.allocation is not None else {}),
        **(
            {"limit_changes": {str(k): {**asdict(c), "reduction_kw": kw} for k, (c, kw) in plan.changes.items()}}
            if plan.changes
            else {}
        ),
        "ineligible": [{"hcalcs_id": k, "reason": v} for k, v in sorted(ineligible.items())],
    }
