"""Which chargers to switch off, for how long, and why (R2, R4, R6, NF1, NF3, NF11, NF12).

``selection_candidates`` reads everything a decision needs in a handful of queries;
``selection_plan`` is a pure function over those candidates, so the policy is easy to test
and every decision can be written to the audit trail with its reasons.

Policy:
1. Only chargers passing invariant 1 are candidates (``hcalcs_eligible_for_curtailment``).
2. Allowance = min(120 - minutes in the last 24 h, 480 - minutes in the last 30 days);
   duration = min(event minutes, allowance, rotation slot); below ``MIN_USEFUL_MINUTES``
   the charger is skipped.
3. Order: least curtailed over 30 days first (fairness), then DCC reachability, then
   expected kW. Pick until the required kW is covered.
4. Within the DCC command budget (``curtailment.budget``): a charger whose commands would
   pass the anomaly detection thresholds is deferred, with the reason, not picked.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import asdict, dataclass

from django.conf import settings

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

    @property
    def shortfall_kw(self) -> float:
        return max(0.0, self.required_kw - self.covered_kw)

    @property
    def deferred(self) -> int:
        """Chargers skipped only because the DCC command budget is spent."""
        return sum(1 for decision in self.decisions if decision.deferred)


def rotation_minutes() -> int:
    """The most minutes one action holds a charger off within a long event; the event then
    moves on to other homes so no home carries the whole event."""
    return int(settings.DNOCTL["ROTATION_MINUTES"])


def selection_order_key(candidate: Candidate) -> tuple:
    return (candidate.used_30d, -candidate.reachability, -candidate.expected_kw, candidate.hcalcs_id)


def selection_plan(
    *, candidates: Iterable[Candidate], required_kw: float, event_minutes: int, budget: CommandBudget | None = None
) -> Plan:
    """Pick chargers, least curtailed first, until ``required_kw`` is covered, spending
    ``budget`` (the DCC command budget) on what each pick will send."""
    min_useful = int(settings.DNOCTL["MIN_USEFUL_MINUTES"])
    slot = min(event_minutes, rotation_minutes(), MAX_ACTION_MINUTES)
    picks: list[tuple[Candidate, int]] = []
    decisions: list[Decision] = []
    covered = 0.0
    for candidate in sorted(candidates, key=selection_order_key):
        minutes = min(slot, candidate.allowance)
        skipped = _skip_reason(
            candidate, minutes=minutes, covered=covered, required_kw=required_kw, min_useful=min_useful
        )
        if skipped:
            decisions.append(Decision(candidate.hcalcs_id, False, skipped))
            continue
        needs = commands_needed(override_allowed=candidate.override_allowed, on_boost_button=candidate.on_boost_button)
        refusal = budget.refusal(needs) if budget is not None else None
        if refusal:
            decisions.append(Decision(candidate.hcalcs_id, False, refusal, deferred=True))
            continue
        if budget is not None:
            budget.take(needs)
        covered += candidate.expected_kw
        picks.append((candidate, minutes))
        decisions.append(
            Decision(
                candidate.hcalcs_id,
                True,
                f"used {candidate.used_30d} min in 30 d, reachability {candidate.reachability}, "
                f"{candidate.expected_kw:.1f} kW expected",
                minutes,
                candidate.expected_kw,
            )
        )
    return Plan(picks=picks, decisions=decisions, covered_kw=covered, required_kw=required_kw)


def _skip_reason(candidate: Candidate, *, minutes: int, covered: float, required_kw: float, min_useful: int) -> str:
    if covered >= required_kw:
        return "required reduction already covered"
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
    """Eligible chargers on ``feeder`` with allowance, reachability and expected kW, and the
    reason each other charger on the feeder is not eligible. Five queries in all."""
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
            )
        )
    ineligible = hcalcs_ineligibility(feeder=feeder, at=at, exclude_ids=set(ids) | excluded)
    return candidates, ineligible


def plan_audit_inputs(plan: Plan, ineligible: dict[int, str]) -> dict:
    """The plan as JSON for ``audit_record(inputs=...)``: ids and numbers only."""
    return {
        "required_kw": round(plan.required_kw, 3),
        "covered_kw": round(plan.covered_kw, 3),
        "shortfall_kw": round(plan.shortfall_kw, 3),
        "deferred_by_dcc_budget": plan.deferred,
        "candidates": [asdict(d) for d in plan.decisions],
        "ineligible": [{"hcalcs_id": k, "reason": v} for k, v in sorted(ineligible.items())],
    }
