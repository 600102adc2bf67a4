"""Share a feeder's required reduction between throttled APC chargers (7.16) and switched-off HCALCS
(7.6).

SECMP0046 option 2: APC chargers above a common level T are held to T (never below their minimum);
only the rest is met by switching off the fewest, least-curtailed HCALCS. A charger at or below T is
not limited: every limited minute counts against its allowance (docs/apc.md). Sums are integer
centiwatts, so the properties hold exactly.
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
    """An APC charger; ``demand_kw`` is its draw without a limit."""

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
    """The limit for one APC charger: ``level`` % of its maximum (DUIS ``CommandedStateLevel``)."""

    charger_id: int
    level: int
    limit_kw: float
    reduction_kw: float
    at_minimum: bool


@dataclass(frozen=True)
class Allocation:
    """What :func:`allocation_plan` decided; ``common_level_kw`` is the water level T."""

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
        return next((limit.level for limit in self.limits if limit.charger_id == charger_id), FULL_LEVEL)


@dataclass(frozen=True)
class LimitChange:
    """One 7.16 to send: ``set``, ``lower``, ``raise`` or ``lift`` (level 100)."""

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
    """The highest level T (centiwatts) whose holding saves ``need_cw``; 0 if unreachable, None if not needed."""
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
    """Sums of the first ``m`` still-present weights (a Fenwick tree): O(log n) to remove or to ask."""

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
    """The fewest ``candidates`` covering ``need_cw``, least-used first among sets that small.

    Taking a candidate only while the largest remaining ones can still cover the rest keeps a
    smallest cover reachable.
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
    """Meet ``required_kw`` by throttling ``apc``, then switching off the fewest ``hcalcs``;
    ``ValueError`` names bad input."""
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
    """The 7.16s moving chargers to ``allocation``'s levels; raises under ``min_raise_levels`` are
    skipped to spare the DCC."""
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
