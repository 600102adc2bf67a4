"""Share a feeder's required reduction between throttled APC chargers and switched-off HCALCS.

Option 2 of SECMP0046 (seed 001), the Proposer's preferred one: a charger behind an
Auxiliary Proportional Controller (APC) is limited to a percentage of its maximum
(DUIS ``CommandedStateLevel``, SRV 7.16 / 7.13) instead of being switched off. The dispatch
limits many chargers a little before it switches any off:

1. **Water-filling.** Every APC charger drawing more than a common level ``T`` kW is held
   to ``T``, but never below its guaranteed minimum (s14a EnWG's 4.2 kW by default, as
   evcc implements it); ``T`` is the highest level that still meets the reduction, so
   no charger is throttled more than the reduction needs, and every throttled charger
   not at its minimum is left the same kW. A charger drawing ``T`` or less gets no limit:
   it would give nothing and would use up its allowance (see below).
2. **Switch-off for the rest.** Only what throttling every APC charger to its minimum
   cannot cover is met by switching HCALCS off, with the **fewest** chargers that cover
   it. Among the sets of that size, the fairest is taken: the least curtailed over 30
   days first, then over 24 hours, then in the order given. Whatever those switch-offs
   cover beyond the shortfall is given back to the APC chargers (a higher ``T``).
3. If all of that is not enough, every charger is at its minimum or off and the
   allocation reports the shortfall.

**Levels are whole percent of the charger's maximum**, as the device applies them. A
limit rounds down (more reduction, so the reduction is still met) and the guaranteed
minimum rounds up to the next whole percent (so the charger never gets less). All sums
are exact integers (centiwatts) inside, so the properties hold exactly, not within a
tolerance.

**Usage limits (NF11/NF12, invariant 2).** Every minute a charger is commanded below
100 % counts as a curtailed minute, on the same ledger as a switched-off minute. The
seeds cap "the equivalent of each charger being switched off for 2 hours" (8 in 30
days); counting the whole minute is right under any reading of "equivalent", needs no
estimate of what the car would have drawn (which nobody measures, while the ledger counts
what the device did), and keeps one ledger and one compliance arithmetic for both kinds
of charger. ``docs/apc.md`` weighs the alternative (energy withheld). This is why step 1
never limits a charger that would give nothing: each limit costs the customer minutes.
History fairness therefore comes from the allowance (the caller passes only chargers
whose allowance is worth a command, as ``selection_plan`` does for HCALCS), from
rotation (the engine gives each limit a window, after which the device reverts by
itself), and from the switch-off order above.

Pure Python, no Django: the engine reads the candidates, calls :func:`allocation_plan`,
and sends the limits (:func:`limits_reconcile` says which 7.16s to send as the load moves).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

GUARANTEED_MIN_KW = 4.2  # s14a EnWG: a controlled charger keeps at least this much
FULL_LEVEL = 100  # CommandedStateLevel of an unlimited APC
DEFAULT_MIN_RAISE_LEVELS = 5  # raise a limit only by at least this many percent (fewer commands)
_CW_PER_KW = 100_000  # the allocation counts in centiwatts: level x max watts is exact


@dataclass(frozen=True)
class ApcCharger:
    """An APC charger that may be throttled.

    ``demand_kw`` is what it would draw now without a limit: for a charger already
    limited, its draw before the limit (or ``max_kw`` when that is not known), since its
    metered draw is only the limit itself. A demand above ``max_kw`` (a house's own load
    in the meter's reading) counts as ``max_kw``. ``min_kw`` overrides the allocation's
    guaranteed minimum for this charger.
    """

    charger_id: int
    max_kw: float
    demand_kw: float
    min_kw: float | None = None


@dataclass(frozen=True)
class HcalcsCandidate:
    """A charger that can only be switched off (HCALCS, SRV 7.6): ``kw`` is what that saves."""

    charger_id: int
    kw: float
    used_minutes_30d: int = 0
    used_minutes_24h: int = 0


@dataclass(frozen=True)
class ApcLimit:
    """The limit for one APC charger: ``level`` % of its maximum (the DUIS
    ``CommandedStateLevel``), which is ``limit_kw``, saving ``reduction_kw`` of its demand."""

    charger_id: int
    level: int
    limit_kw: float
    reduction_kw: float
    at_minimum: bool


@dataclass(frozen=True)
class Allocation:
    """What :func:`allocation_plan` decided. ``common_level_kw`` is the water level ``T``
    (None when no charger is throttled); ``switched_off`` lists HCALCS ids, fairest first."""

    required_kw: float
    limits: tuple[ApcLimit, ...]
    switched_off: tuple[int, ...]
    throttled_kw: float
    switched_off_kw: float
    throttle_capacity_kw: float
    common_level_kw: float | None
    covered_kw: float  # throttled + switched off
    shortfall_kw: float  # what is left of required_kw (0 when met): summed exactly, not in floats

    @property
    def met(self) -> bool:
        return self.shortfall_kw == 0.0

    def level_of(self, charger_id: int) -> int:
        """The level commanded for an APC charger (100 = not limited)."""
        return next((limit.level for limit in self.limits if limit.charger_id == charger_id), FULL_LEVEL)


@dataclass(frozen=True)
class LimitChange:
    """One 7.16 to send: ``change`` is ``set`` (a new limit), ``lower``, ``raise`` or ``lift``
    (level 100: the limit ends before its window does)."""

    charger_id: int
    change: str
    level: int
    previous_level: int | None


@dataclass(frozen=True)
class _Apc:
    charger_id: int
    max_w: int
    demand_cw: int
    floor_level: int  # the lowest level that still gives the guaranteed minimum
    floor_cw: int


def _watts(value: object, what: str) -> int:
    """kW -> whole watts, refusing what cannot be a power."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{what} must be a finite number of kW >= 0, got {value!r}")
    return round(value * 1000)


def _apc_rows(chargers: Iterable[ApcCharger], guaranteed_min_kw: float) -> list[_Apc]:
    default_min_w = _watts(guaranteed_min_kw, "guaranteed_min_kw")
    rows, seen = [], set()
    for charger in chargers:
        name = f"APC charger {charger.charger_id}"
        if charger.charger_id in seen:
            raise ValueError(f"{name} is listed twice")
        seen.add(charger.charger_id)
        max_w = _watts(charger.max_kw, f"{name} max_kw")
        if max_w == 0:
            raise ValueError(f"{name} max_kw must be above 0")
        min_w = default_min_w if charger.min_kw is None else _watts(charger.min_kw, f"{name} min_kw")
        demand_w = min(_watts(charger.demand_kw, f"{name} demand_kw"), max_w)
        floor_level = min(FULL_LEVEL, -(-FULL_LEVEL * min_w // max_w))  # ceil: never below the minimum
        rows.append(_Apc(charger.charger_id, max_w, 100 * demand_w, floor_level, floor_level * max_w))
    return rows


def _water_level(rows: Sequence[_Apc], need_cw: int) -> int | None:
    """The highest level ``T`` (centiwatts) at which holding every charger to max(T, its
    minimum) saves at least ``need_cw``; 0 when even every minimum is not enough, None
    when nothing is needed.

    The saving S(T) = sum of (demand - max(T, floor)) over chargers with demand above
    both is piecewise linear and falls as T rises; a sweep down its breakpoints (each
    charger's demand and floor) finds the segment where it reaches the need.
    """
    if need_cw <= 0:
        return None
    points = []
    for row in rows:
        if row.demand_cw > row.floor_cw:
            points.append((row.demand_cw, 1))  # below its demand a charger gives more as T falls
            points.append((row.floor_cw, -1))  # below its floor it gives no more
    points.sort(reverse=True)
    saved, active, previous = 0, 0, None
    for value, delta in points:
        if previous is not None and active:
            gained = active * (previous - value)
            if saved + gained >= need_cw:
                return previous - -(-(need_cw - saved) // active)  # ceil: the highest T still enough
            saved += gained
        previous = value
        active += delta
    return 0


def _limits(rows: Sequence[_Apc], level_cw: int | None) -> tuple[list[ApcLimit], int]:
    """The limits at water level ``level_cw`` and what they save (centiwatts)."""
    if level_cw is None:
        return [], 0
    limits, saved_cw = [], 0
    for row in rows:
        if row.demand_cw <= max(row.floor_cw, level_cw):
            continue  # a limit would save nothing and cost the customer minutes
        level = max(row.floor_level, level_cw // row.max_w)  # round down: at most T
        limit_cw = level * row.max_w
        saved_cw += row.demand_cw - limit_cw
        limits.append(
            ApcLimit(
                charger_id=row.charger_id,
                level=level,
                limit_kw=limit_cw / _CW_PER_KW,
                reduction_kw=(row.demand_cw - limit_cw) / _CW_PER_KW,
                at_minimum=level == row.floor_level,
            )
        )
    return limits, saved_cw


class _PresentPrefix:
    """Sums of the first ``m`` still-present weights in a fixed order (a Fenwick tree over
    counts and sums): O(log n) to remove one or to ask, so choosing switch-offs from a
    thousand candidates stays well under a millisecond per candidate."""

    def __init__(self, weights: Sequence[int]) -> None:
        n = len(weights)
        self.weights = [0, *weights]
        self.counts = [0] + [1] * n
        self.sums = list(self.weights)
        for i in range(1, n + 1):
            parent = i + (i & -i)
            if parent <= n:
                self.counts[parent] += self.counts[i]
                self.sums[parent] += self.sums[i]
        self.top_bit = 1 << (n.bit_length() - 1) if n else 0

    def remove(self, position: int) -> None:
        weight, i = self.weights[position + 1], position + 1
        while i < len(self.counts):
            self.counts[i] -= 1
            self.sums[i] -= weight
            i += i & -i

    def first_sum(self, m: int) -> int:
        """Sum of the first ``m`` present weights (of all of them when fewer are present)."""
        if m <= 0:
            return 0
        walk = count = total = 0
        step = self.top_bit
        while step:
            ahead = walk + step
            if ahead < len(self.counts) and count + self.counts[ahead] < m:
                walk, count, total = ahead, count + self.counts[ahead], total + self.sums[ahead]
            step >>= 1
        return total if walk + 1 >= len(self.counts) else total + self.weights[walk + 1]


def _fewest_switch_offs(candidates: Sequence[tuple[HcalcsCandidate, int]], need_cw: int) -> list[HcalcsCandidate]:
    """The fewest of ``candidates`` (each with what it saves, in centiwatts) that cover
    ``need_cw`` (all of them when none do), and of the sets that small, the one taking the
    least-used chargers first.

    The size k is that of the k largest. Then, in fairness order, a candidate is taken when
    the rest can still be covered by the largest of the candidates not yet considered with
    the slots left: that keeps a cover of size k reachable at every step, so the result is
    a smallest cover and, of those, the first in fairness order.
    """
    usable = [candidate for candidate, weight in candidates if weight > 0]
    weights = [weight for _candidate, weight in candidates if weight > 0]
    fairness = sorted(range(len(usable)), key=lambda i: (usable[i].used_minutes_30d, usable[i].used_minutes_24h, i))
    if need_cw <= 0:
        return []
    if sum(weights) < need_cw:
        return [usable[i] for i in fairness]
    largest_first = sorted(range(len(usable)), key=lambda i: -weights[i])
    slots, covered = 0, 0
    while covered < need_cw:
        covered += weights[largest_first[slots]]
        slots += 1
    position = {index: rank for rank, index in enumerate(largest_first)}
    pool = _PresentPrefix([weights[i] for i in largest_first])
    picked, remaining = [], need_cw
    for i in fairness:
        if remaining <= 0:
            break
        pool.remove(position[i])
        if remaining - weights[i] <= pool.first_sum(slots - 1):
            picked.append(usable[i])
            remaining -= weights[i]
            slots -= 1
    return picked


def allocation_plan(
    *,
    required_kw: float,
    apc: Iterable[ApcCharger],
    hcalcs: Iterable[HcalcsCandidate] = (),
    guaranteed_min_kw: float = GUARANTEED_MIN_KW,
) -> Allocation:
    """Meet ``required_kw`` by throttling ``apc`` chargers to a common level (never below
    ``guaranteed_min_kw``, or a charger's own ``min_kw``), switching off the fewest
    ``hcalcs`` only for what throttling cannot cover. Raises ``ValueError`` naming the bad
    input (a negative or non-finite kW, a charger listed twice)."""
    need_cw = 100 * _watts(required_kw, "required_kw")
    rows = _apc_rows(apc, guaranteed_min_kw)
    candidates = [(c, 100 * _watts(c.kw, f"HCALCS {c.charger_id} kw")) for c in hcalcs]
    if len({c.charger_id for c, _weight in candidates}) != len(candidates):
        raise ValueError("an HCALCS candidate is listed twice")
    capacity_cw = sum(max(0, row.demand_cw - row.floor_cw) for row in rows)
    switched_off = _fewest_switch_offs(candidates, need_cw - capacity_cw)
    picked = {c.charger_id for c in switched_off}
    switched_off_cw = sum(weight for c, weight in candidates if c.charger_id in picked)
    level_cw = _water_level(rows, need_cw - switched_off_cw)
    limits, throttled_cw = _limits(rows, level_cw)
    return Allocation(
        required_kw=need_cw / _CW_PER_KW,
        limits=tuple(limits),
        switched_off=tuple(c.charger_id for c in switched_off),
        throttled_kw=throttled_cw / _CW_PER_KW,
        switched_off_kw=switched_off_cw / _CW_PER_KW,
        throttle_capacity_kw=capacity_cw / _CW_PER_KW,
        common_level_kw=None if not limits else level_cw / _CW_PER_KW,
        covered_kw=(throttled_cw + switched_off_cw) / _CW_PER_KW,
        shortfall_kw=max(0, need_cw - throttled_cw - switched_off_cw) / _CW_PER_KW,
    )


def limits_reconcile(
    *, current: Mapping[int, int], allocation: Allocation, min_raise_levels: int = DEFAULT_MIN_RAISE_LEVELS
) -> list[LimitChange]:
    """The 7.16s that take the chargers from their ``current`` levels (charger id -> level,
    limited chargers only) to ``allocation``'s, as the load moves.

    A lower limit is always sent (the reduction depends on it) and so is a lift (every
    limited minute counts against the customer's allowance). A raise smaller than
    ``min_raise_levels`` is skipped: the charger keeps a slightly lower limit, which only
    reduces more, and the DCC is spared a command.
    """
    changes = []
    for limit in allocation.limits:
        before = current.get(limit.charger_id)
        if before is None:
            changes.append(LimitChange(limit.charger_id, "set", limit.level, None))
        elif limit.level < before:
            changes.append(LimitChange(limit.charger_id, "lower", limit.level, before))
        elif limit.level - before >= min_raise_levels:
            changes.append(LimitChange(limit.charger_id, "raise", limit.level, before))
    kept = {limit.charger_id for limit in allocation.limits}
    for charger_id, before in current.items():
        if charger_id not in kept and before < FULL_LEVEL:
            changes.append(LimitChange(charger_id, "lift", FULL_LEVEL, before))
    return changes


def allocation_audit_inputs(allocation: Allocation) -> dict:
    """The allocation as JSON for ``audit_record(inputs=...)``: ids and numbers only."""
    return {
        "required_kw": allocation.required_kw,
        "throttled_kw": allocation.throttled_kw,
        "switched_off_kw": allocation.switched_off_kw,
        "shortfall_kw": allocation.shortfall_kw,
        "throttle_capacity_kw": allocation.throttle_capacity_kw,
        "common_level_kw": allocation.common_level_kw,
        "limits": [
            {
                "charger_id": limit.charger_id,
                "level": limit.level,
                "limit_kw": limit.limit_kw,
                "at_minimum": limit.at_minimum,
            }
            for limit in allocation.limits
        ],
        "switched_off": list(allocation.switched_off),
    }
