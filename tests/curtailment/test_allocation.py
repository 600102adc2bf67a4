"""The APC / HCALCS allocation (``curtailment.allocation``): properties for any fleet.

For any feeder's required reduction and fleet of APC and HCALCS chargers, the allocation
meets the reduction when the fleet can, never limits a charger below its guaranteed minimum,
never beyond its own limits, throttles no more than the reduction needs (up to the whole
percent a level rounds to), and switches off the fewest HCALCS, the least used first. The
expectations are computed here by brute force, not by the module's own arithmetic.
"""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from curtailment.allocation import (
    GUARANTEED_MIN_KW,
    ApcCharger,
    HcalcsCandidate,
    allocation_audit_inputs,
    allocation_plan,
    limits_reconcile,
)

CW = 100_000  # centiwatts per kW: the tests compare sums exactly, in whole centiwatts


def cw(kw: float) -> int:
    return round(kw * CW)


def floor_level(charger: ApcCharger, default_min_kw: float) -> int:
    """The lowest whole-percent level that still gives the guaranteed minimum (by search)."""
    minimum = default_min_kw if charger.min_kw is None else charger.min_kw
    return next((level for level in range(101) if level * cw(charger.max_kw) >= 100 * cw(minimum)), 100)


def headroom_cw(charger: ApcCharger, default_min_kw: float) -> int:
    """What throttling this charger to its minimum saves."""
    demand = min(cw(charger.demand_kw), cw(charger.max_kw))
    return max(0, demand - floor_level(charger, default_min_kw) * cw(charger.max_kw) // 100)


def kw_from_watts(watts: int) -> float:
    return watts / 1000


@st.composite
def apc_chargers(draw, *, max_size: int) -> list[ApcCharger]:
    count = draw(st.integers(min_value=0, max_value=max_size))
    chargers = []
    for charger_id in range(count):
        max_w = draw(st.sampled_from([3680, 7000, 7400, 11000, 22000]) | st.integers(1000, 22000))
        demand_w = draw(st.integers(0, max_w + 2000))  # above max: a house's own load in the reading
        min_w = draw(st.none() | st.integers(0, 8000))
        chargers.append(
            ApcCharger(
                charger_id=charger_id,
                max_kw=kw_from_watts(max_w),
                demand_kw=kw_from_watts(demand_w),
                min_kw=None if min_w is None else kw_from_watts(min_w),
            )
        )
    return chargers


@st.composite
def hcalcs_candidates(draw, *, max_size: int) -> list[HcalcsCandidate]:
    count = draw(st.integers(min_value=0, max_value=max_size))
    return [
        HcalcsCandidate(
            charger_id=1000 + i,
            kw=kw_from_watts(draw(st.integers(0, 22000))),
            used_minutes_30d=draw(st.integers(0, 480)),
            used_minutes_24h=draw(st.integers(0, 120)),
        )
        for i in range(count)
    ]


minimums = st.sampled_from([GUARANTEED_MIN_KW, 0.0, 1.4, 6.0])
required = st.integers(0, 120_000).map(kw_from_watts)


def check_limits(allocation, apc: list[ApcCharger], default_min_kw: float) -> None:
    """Never below the guaranteed minimum, never beyond a charger's own limits."""
    by_id = {charger.charger_id: charger for charger in apc}
    assert len({limit.charger_id for limit in allocation.limits}) == len(allocation.limits)
    for limit in allocation.limits:
        charger = by_id[limit.charger_id]
        minimum = default_min_kw if charger.min_kw is None else charger.min_kw
        demand = min(cw(charger.demand_kw), cw(charger.max_kw))
        assert 0 <= limit.level < 100
        assert cw(limit.limit_kw) * 100 == limit.level * cw(charger.max_kw)  # level % of max, exactly
        assert cw(limit.limit_kw) >= cw(minimum)  # never below the guaranteed minimum
        assert cw(limit.limit_kw) < demand  # a limit is only sent where it saves something
        assert cw(limit.reduction_kw) == demand - cw(limit.limit_kw)
        assert limit.at_minimum == (limit.level == floor_level(charger, default_min_kw))


@settings(max_examples=400, deadline=None)
@given(
    apc=apc_chargers(max_size=6), hcalcs=hcalcs_candidates(max_size=7), required_kw=required, default_min_kw=minimums
)
def test_small_fleets_meet_the_reduction_with_the_fewest_switch_offs_least_used_first(
    apc, hcalcs, required_kw, default_min_kw
):
    allocation = allocation_plan(required_kw=required_kw, apc=apc, hcalcs=hcalcs, guaranteed_min_kw=default_min_kw)

    check_limits(allocation, apc, default_min_kw)
    capacity = sum(headroom_cw(charger, default_min_kw) for charger in apc)
    need = cw(required_kw)
    assert cw(allocation.throttle_capacity_kw) == capacity
    # Every subset of the HCALCS that, with every APC charger at its minimum, meets the need.
    usable = [c for c in hcalcs if cw(c.kw) > 0]
    covers = [
        subset
        for size in range(len(usable) + 1)
        for subset in itertools.combinations(usable, size)
        if capacity + sum(cw(c.kw) for c in subset) >= need
    ]
    if covers:
        assert cw(allocation.covered_kw) >= need and allocation.met
        fewest = min(len(subset) for subset in covers)
        assert len(allocation.switched_off) == fewest
        # Of the smallest covers, the one that is first in fairness order (least used first).
        rank = {
            c.charger_id: r
            for r, c in enumerate(sorted(usable, key=lambda c: (c.used_minutes_30d, c.used_minutes_24h)))
        }
        fairest = min(sorted(rank[c.charger_id] for c in subset) for subset in covers if len(subset) == fewest)
        assert sorted(rank[i] for i in allocation.switched_off) == fairest
    else:
        # It cannot be met: every APC charger at its minimum and every HCALCS that saves anything off.
        assert not allocation.met
        assert set(allocation.switched_off) == {c.charger_id for c in usable}
        assert cw(allocation.throttled_kw) == capacity
    if need <= capacity:
        assert allocation.switched_off == ()


@settings(max_examples=300, deadline=None)
@given(
    apc=apc_chargers(max_size=60), hcalcs=hcalcs_candidates(max_size=20), required_kw=required, default_min_kw=minimums
)
def test_throttling_holds_chargers_to_one_common_level_and_no_lower_than_needed(
    apc, hcalcs, required_kw, default_min_kw
):
    allocation = allocation_plan(required_kw=required_kw, apc=apc, hcalcs=hcalcs, guaranteed_min_kw=default_min_kw)

    check_limits(allocation, apc, default_min_kw)
    limited = {limit.charger_id: limit for limit in allocation.limits}
    apc_need = cw(required_kw) - cw(allocation.switched_off_kw)
    if apc_need <= 0:
        assert allocation.limits == () and allocation.common_level_kw is None
        return
    if not limited:
        assert allocation.throttle_capacity_kw == 0
        return
    level = cw(allocation.common_level_kw)

    def saving(at: int) -> int:  # what holding every charger to max(at, its minimum) saves
        return sum(
            max(0, min(cw(c.demand_kw), cw(c.max_kw)) - max(at, floor_level(c, default_min_kw) * cw(c.max_kw) // 100))
            for c in apc
        )

    if saving(0) >= apc_need:
        # The common level is the highest that is enough, to the centiwatt.
        assert saving(level) >= apc_need > saving(level + 1)
    else:
        assert level == 0  # not enough even with every charger at its minimum
    for charger in apc:
        limit = limited.get(charger.charger_id)
        floor = floor_level(charger, default_min_kw) * cw(charger.max_kw) // 100
        demand = min(cw(charger.demand_kw), cw(charger.max_kw))
        if limit is None:
            assert demand <= max(level, floor)  # untouched only when it is at or below the level
        elif not limit.at_minimum:
            # Held to the common level, rounded down to a whole percent of its maximum.
            assert level - cw(charger.max_kw) // 100 <= cw(limit.limit_kw) <= level
    # No more throttling than the need, but for each limit's rounding down to a whole percent.
    rounding = sum(cw(charger.max_kw) // 100 for charger in apc if charger.charger_id in limited)
    assert cw(allocation.throttled_kw) <= max(apc_need, 0) + rounding + len(apc)


@settings(max_examples=200, deadline=None)
@given(apc=apc_chargers(max_size=30), required_kw=required, data=st.data())
def test_reconciling_limits_never_leaves_less_reduction_than_planned(apc, required_kw, data):
    allocation = allocation_plan(required_kw=required_kw, apc=apc)
    current = {
        charger.charger_id: data.draw(st.integers(0, 99), label=f"level of {charger.charger_id}")
        for charger in apc
        if data.draw(st.booleans(), label=f"{charger.charger_id} limited now")
    }

    changes = limits_reconcile(current=current, allocation=allocation)

    after = dict(current)
    for change in changes:
        assert change.previous_level == current.get(change.charger_id)
        after[change.charger_id] = change.level
    assert len({change.charger_id for change in changes}) == len(changes)  # one command per charger
    for charger in apc:
        planned = allocation.level_of(charger.charger_id)
        now = after.get(charger.charger_id, 100)
        if planned < 100:
            assert now <= planned  # at most the planned level: at least the planned reduction
            assert planned - now < 5  # a raise is skipped only when it is small
        else:
            assert now == 100  # a limit no longer needed is lifted


def test_a_small_raise_is_skipped_and_a_lower_limit_or_a_lift_always_sent():
    allocation = allocation_plan(
        required_kw=4, apc=[ApcCharger(charger_id=i, max_kw=10, demand_kw=10, min_kw=1) for i in (1, 2, 3)]
    )
    assert {limit.level for limit in allocation.limits} == {86}  # 10 - 4/3 = 8.67 kW

    changes = limits_reconcile(current={1: 84, 2: 80, 3: 90, 4: 50}, allocation=allocation)

    assert [(c.charger_id, c.change, c.level) for c in changes] == [
        (2, "raise", 86),
        (3, "lower", 86),
        (4, "lift", 100),
    ]


def test_a_small_reduction_is_shared_by_throttling_and_switches_nothing_off():
    apc = [ApcCharger(charger_id=i, max_kw=7.4, demand_kw=7.0) for i in range(5)]
    hcalcs = [HcalcsCandidate(charger_id=100, kw=7.0)]

    allocation = allocation_plan(required_kw=10, apc=apc, hcalcs=hcalcs)

    assert allocation.switched_off == ()
    # 7.0 - 10/5 = 5.0 kW each, as 67 % of 7.4 kW (4.958 kW, rounded down to a whole percent).
    assert allocation.common_level_kw == 5.0
    assert {(limit.level, limit.limit_kw) for limit in allocation.limits} == {(67, 4.958)}
    assert allocation.throttled_kw == pytest.approx(5 * (7.0 - 4.958))


def test_the_s14a_minimum_rounds_up_to_the_next_whole_percent():
    # 4.2 kW of an 11 kW charger is 38.2 %: 38 % would leave it 4.18 kW, so it is held at 39 %.
    allocation = allocation_plan(required_kw=50, apc=[ApcCharger(charger_id=1, max_kw=11, demand_kw=11)])

    (limit,) = allocation.limits
    assert (limit.level, limit.limit_kw, limit.at_minimum) == (39, 4.29, True)
    assert allocation.shortfall_kw == pytest.approx(50 - (11 - 4.29))


def test_switch_offs_cover_only_what_throttling_cannot_and_give_the_surplus_back():
    apc = [ApcCharger(charger_id=i, max_kw=7.0, demand_kw=7.0, min_kw=4.2) for i in range(2)]  # 5.6 kW headroom
    hcalcs = [
        HcalcsCandidate(charger_id=10, kw=7.0, used_minutes_30d=300),
        HcalcsCandidate(charger_id=11, kw=3.0, used_minutes_30d=0),
        HcalcsCandidate(charger_id=12, kw=7.0, used_minutes_30d=100),
    ]

    allocation = allocation_plan(required_kw=9.0, apc=apc, hcalcs=hcalcs)

    # 3.4 kW beyond throttling: one charger suffices, and of those big enough the least used.
    assert allocation.switched_off == (12,)
    # Its 7 kW leaves 2 kW to throttle: 1 kW from each APC charger, not down to the minimum.
    assert {limit.level for limit in allocation.limits} == {85}
    assert allocation.met


def test_a_charger_drawing_below_the_level_is_not_limited():
    apc = [ApcCharger(charger_id=1, max_kw=7.4, demand_kw=7.4), ApcCharger(charger_id=2, max_kw=7.4, demand_kw=3.0)]

    allocation = allocation_plan(required_kw=1.0, apc=apc)

    assert [limit.charger_id for limit in allocation.limits] == [1]


@pytest.mark.parametrize(
    ("arguments", "named"),
    [
        ({"required_kw": -1, "apc": []}, "required_kw"),
        ({"required_kw": math.nan, "apc": []}, "required_kw"),
        ({"required_kw": 1, "apc": [ApcCharger(charger_id=7, max_kw=0, demand_kw=0)]}, "APC charger 7 max_kw"),
        ({"required_kw": 1, "apc": [ApcCharger(charger_id=7, max_kw=7, demand_kw=-2)]}, "APC charger 7 demand_kw"),
        (
            {"required_kw": 1, "apc": [ApcCharger(charger_id=7, max_kw=7, demand_kw=math.inf)]},
            "APC charger 7 demand_kw",
        ),
        ({"required_kw": 1, "apc": [ApcCharger(7, 7, 7), ApcCharger(7, 7, 7)]}, "APC charger 7 is listed twice"),
        ({"required_kw": 1, "apc": [], "hcalcs": [HcalcsCandidate(3, -1.0)]}, "HCALCS 3 kw"),
        ({"required_kw": 1, "apc": [], "hcalcs": [HcalcsCandidate(3, 1), HcalcsCandidate(3, 2)]}, "listed twice"),
        ({"required_kw": 1, "apc": [], "guaranteed_min_kw": -4.2}, "guaranteed_min_kw"),
    ],
)
def test_bad_input_is_refused_naming_it(arguments, named):
    with pytest.raises(ValueError, match=named):
        allocation_plan(**arguments)


def test_the_audit_inputs_say_what_was_decided():
    allocation = allocation_plan(
        required_kw=12,
        apc=[ApcCharger(charger_id=1, max_kw=7.4, demand_kw=7.4)],
        hcalcs=[HcalcsCandidate(charger_id=5, kw=9.0)],
    )

    inputs = allocation_audit_inputs(allocation)

    assert inputs["switched_off"] == [5]
    # 9 kW switched off leaves 3 kW to throttle: 7.4 -> 4.4 kW, 59 % of 7.4 kW rounded down.
    assert inputs["limits"] == [{"charger_id": 1, "level": 59, "limit_kw": 4.366, "at_minimum": False}]
    assert inputs["shortfall_kw"] == 0
