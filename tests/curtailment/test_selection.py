"""Selection policy: invariant 1 filters, fairness order, usage limits."""

import datetime as dt
from dataclasses import replace

import pytest
from django.utils import timezone

from consent.choices import ConsentStatus, LoadLabel
from consent.models import HalfHourlyConsumption
from curtailment.budget import BudgetLine, CommandBudget
from curtailment.selection import Candidate, selection_candidates, selection_plan
from curtailment.selectors import feeder_managed_dates, feeders_managed, hcalcs_eligible_for_curtailment
from curtailment.services import curtailment_event_start
from dcc.models import ServiceRequest
from tests.consent.factories import ConsentFactory, TenancyFactory, eligible_charger
from tests.curtailment import factories
from tests.feeders.factories import FeederFactory


def _past_action(*, hcalcs, feeder, minutes, ago):
    start = timezone.now() - ago
    end = start + dt.timedelta(minutes=minutes)
    event = factories.open_event(
        feeder=feeder, reduction_kw=5, status="ended", started_at=start, planned_end_at=end, ended_at=end
    )
    # The device confirmed at once (the factory's default): its minutes count.
    return factories.action(
        event=event, hcalcs=hcalcs, minutes=minutes, started_at=start, ended_at=end, status="ended", expected_kw=7
    )


@pytest.mark.django_db
def test_eligible_chargers_skip_declined_lapsed_non_domestic_unlabelled_and_old_firmware():
    feeder = FeederFactory()
    good = eligible_charger(feeder=feeder)
    declined = eligible_charger(feeder=feeder)
    declined.meter.premise.tenancies.get().consent.__class__.objects.filter(
        tenancy__premise=declined.meter.premise
    ).update(status=ConsentStatus.DECLINED)
    lapsed = eligible_charger(feeder=feeder)
    old_tenancy = lapsed.meter.premise.tenancies.get()
    old_tenancy.end = timezone.now() - dt.timedelta(days=1)
    old_tenancy.save()
    # The new occupant has not consented yet (NF3).
    ConsentFactory(
        tenancy=TenancyFactory(premise=lapsed.meter.premise, start=timezone.now() - dt.timedelta(hours=12)),
        status=ConsentStatus.PENDING,
    )
    non_domestic = eligible_charger(feeder=feeder)
    non_domestic.meter.premise.domestic = False
    non_domestic.meter.premise.save()
    unlabelled = eligible_charger(feeder=feeder, label=LoadLabel.UNLABELLED)
    old_firmware = eligible_charger(feeder=feeder)
    old_firmware.meter.supports_eno_use_cases = False
    old_firmware.meter.save()
    elsewhere = eligible_charger(feeder=FeederFactory())

    eligible = list(hcalcs_eligible_for_curtailment(feeder=feeder, at=timezone.now()))
    assert [h.pk for h in eligible] == [good.pk]
    candidates, ineligible = selection_candidates(feeder=feeder, at=timezone.now())
    assert [c.hcalcs_id for c in candidates] == [good.pk]
    assert set(ineligible) == {declined.pk, lapsed.pk, non_domestic.pk, unlabelled.pk, old_firmware.pk}
    assert elsewhere.pk not in ineligible
    assert "not domestic" in ineligible[non_domestic.pk]
    assert "ev_charger" in ineligible[unlabelled.pk]
    assert "firmware" in ineligible[old_firmware.pk]
    assert "consent" in ineligible[lapsed.pk]


@pytest.mark.django_db
def test_plan_picks_least_curtailed_first_until_covered():
    feeder = FeederFactory()
    heavy = eligible_charger(feeder=feeder)
    light = eligible_charger(feeder=feeder)
    fresh = eligible_charger(feeder=feeder)
    _past_action(hcalcs=heavy, feeder=feeder, minutes=100, ago=dt.timedelta(days=3))
    _past_action(hcalcs=light, feeder=feeder, minutes=20, ago=dt.timedelta(days=2))
    candidates, _ = selection_candidates(feeder=feeder, at=timezone.now())
    plan = selection_plan(candidates=candidates, required_kw=10.0, event_minutes=30)
    assert [c.hcalcs_id for c, _ in plan.picks] == [fresh.pk, light.pk]
    assert plan.covered_kw == 14.0
    skipped = {d.hcalcs_id: d.reason for d in plan.decisions if not d.picked}
    assert skipped == {heavy.pk: "required reduction already covered"}


@pytest.mark.django_db
def test_plan_shortens_to_allowance_and_skips_below_useful_minimum():
    feeder = FeederFactory()
    nearly_full = eligible_charger(feeder=feeder)
    partly = eligible_charger(feeder=feeder)
    _past_action(hcalcs=nearly_full, feeder=feeder, minutes=115, ago=dt.timedelta(hours=3))
    _past_action(hcalcs=partly, feeder=feeder, minutes=90, ago=dt.timedelta(hours=5))
    candidates, _ = selection_candidates(feeder=feeder, at=timezone.now())
    plan = selection_plan(candidates=candidates, required_kw=50.0, event_minutes=60)
    assert [(c.hcalcs_id, minutes) for c, minutes in plan.picks] == [(partly.pk, 30)]
    skipped = {d.hcalcs_id: d.reason for d in plan.decisions if not d.picked}
    assert skipped[nearly_full.pk].startswith("allowance 5 min below 10")
    assert plan.shortfall_kw == 43.0


@pytest.mark.django_db
def test_managed_feeder_dates_are_6_and_18_months_on_while_events_continue():
    feeder = FeederFactory(managed_since=dt.date(2026, 8, 31))
    quiet = FeederFactory(managed_since=dt.date(2026, 5, 1))
    for which, when in (
        (feeder, dt.datetime(2026, 10, 30, 18, tzinfo=dt.UTC)),
        (quiet, dt.datetime(2026, 9, 1, tzinfo=dt.UTC)),
    ):
        factories.open_event(
            feeder=which,
            reduction_kw=5,
            status="ended",
            started_at=when,
            planned_end_at=when + dt.timedelta(minutes=30),
        )
    managed = feeder_managed_dates(feeder=feeder, today=dt.date(2026, 11, 25))
    assert managed.months_managed == 4
    assert managed.market_solution_due == dt.date(2027, 2, 28)
    assert managed.implementation_due == dt.date(2028, 2, 29)
    # No event in October or November: the quiet feeder's run has ended.
    assert feeder_managed_dates(feeder=quiet, today=dt.date(2026, 11, 25)) is None
    assert feeder_managed_dates(feeder=FeederFactory()) is None
    assert [f.pk for f, _ in feeders_managed(today=dt.date(2026, 11, 25))] == [feeder.pk]


@pytest.mark.django_db
def test_poor_wan_chargers_come_after_reachable_ones_and_get_local_delivery(operator):
    feeder = FeederFactory()
    poor = eligible_charger(feeder=feeder)
    good = eligible_charger(feeder=feeder)
    for n, (charger, state) in enumerate([(poor, "timed_out"), (poor, "timed_out"), (good, "responded")]):
        ServiceRequest.objects.create(
            request_id=f"90-B3-D5-1F-30-01-00-00:{charger.meter.esme_eui64}:{n + 1}",
            srv="7.6",
            command_variant=5,
            originator_eui64="90-B3-D5-1F-30-01-00-00",
            target_eui64=charger.meter.esme_eui64,
            counter=n + 1,
            hcalcs=charger,
            state=state,
            request_document="<x/>",
        )
    candidates, _ = selection_candidates(feeder=feeder, at=timezone.now())
    plan = selection_plan(candidates=candidates, required_kw=14.0, event_minutes=30)
    assert [c.hcalcs_id for c, _ in plan.picks] == [good.pk, poor.pk]
    assert [c.poor_wan for c, _ in plan.picks] == [False, True]
    event = curtailment_event_start(
        feeder=feeder, reduction_kw=14, duration_minutes=30, reason="t", requested_by=operator
    )
    assert dict(event.actions.values_list("hcalcs_id", "use_local_delivery")) == {good.pk: False, poor.pk: True}


@pytest.mark.django_db
def test_expected_kw_is_lowered_when_the_home_draws_less_than_the_charger_rating():
    feeder = FeederFactory()
    idle = eligible_charger(feeder=feeder, rated_kw=7.0)
    busy = eligible_charger(feeder=feeder, rated_kw=7.0)
    now = timezone.now()
    half_hour = now.replace(minute=0 if now.minute < 30 else 30, second=0, microsecond=0)
    HalfHourlyConsumption.objects.create(mpan=idle.meter.mpans.get(), period_start=half_hour, kwh=0.4)
    HalfHourlyConsumption.objects.create(mpan=busy.meter.mpans.get(), period_start=half_hour, kwh=4.5)
    candidates = {c.hcalcs_id: c for c in selection_candidates(feeder=feeder, at=now)[0]}
    assert candidates[idle.pk].expected_kw == pytest.approx(0.8)
    assert candidates[busy.pk].expected_kw == 7.0


def _candidate(hcalcs_id: int, *, kw: float, used_30d: int = 0, apc: bool = False) -> Candidate:
    return Candidate(
        hcalcs_id=hcalcs_id,
        eui64=f"00-00-00-00-00-00-00-{hcalcs_id:02X}",
        switch_index=1,
        mpan_id=None,
        customer_id=None,
        override_allowed=False,
        on_boost_button=True,
        rated_kw=kw,
        expected_kw=kw,
        used_24h=0,
        used_30d=used_30d,
        allowance=120,
        reachability=100,
        poor_wan=False,
        is_apc=apc,
    )


def test_an_hcalcs_only_feeder_switches_off_the_fewest_chargers_least_curtailed_of_those():
    """One rule for every feeder: two small fresh chargers would cover 6 kW, but one 7 kW
    charger does it alone, and of the two 7 kW ones the less curtailed is taken."""
    candidates = [
        _candidate(1, kw=3.5),
        _candidate(2, kw=3.5),
        _candidate(3, kw=7.0, used_30d=40),
        _candidate(4, kw=7.0, used_30d=10),
    ]

    plan = selection_plan(candidates=candidates, required_kw=6.0, event_minutes=30)

    assert [c.hcalcs_id for c, _ in plan.picks] == [4]
    assert plan.limits == {} and plan.shortfall_kw == 0
    assert {d.hcalcs_id: d.reason for d in plan.decisions if not d.picked} == {
        1: "required reduction already covered",
        2: "required reduction already covered",
        3: "required reduction already covered",
    }


def test_a_charger_the_budget_refuses_is_deferred_and_the_allocation_made_again_without_it():
    """Only one 7.16 is left in the budget and the fewest cover needs two limits: the
    second APC is deferred, and the HCALCS covers what throttling one APC cannot."""
    budget = CommandBudget(lines=[BudgetLine(srv="7.16", period="hour", limit=10, sent=9, reserved=0)])
    candidates = [_candidate(1, kw=11.0, apc=True), _candidate(2, kw=11.0, apc=True), _candidate(3, kw=7.0)]

    plan = selection_plan(candidates=candidates, required_kw=9.0, event_minutes=30, budget=budget)

    deferred = [d for d in plan.decisions if d.deferred]
    assert [d.hcalcs_id for d in deferred] == [2] and "7.16" in deferred[0].reason
    assert sorted(c.hcalcs_id for c, _ in plan.picks) == [1, 3]
    assert set(plan.limits) == {1}
    assert plan.covered_kw >= 9.0
    assert budget.taken == {"7.16": 1, "7.6": 1}


def _spent_budget() -> CommandBudget:
    return CommandBudget(
        lines=[
            BudgetLine(srv="7.6", period="hour", limit=10, sent=10, reserved=0),
            BudgetLine(srv="7.16", period="day", limit=30, sent=28, reserved=2),
        ]
    )


def _mixed_feeder(count: int, seed: int) -> list[Candidate]:
    """HCALCS of 0.5-7 kW and APCs of 7-11 kW, some drawing no more than the guaranteed
    minimum (throttling them gives nothing)."""
    import random

    rng = random.Random(seed)
    return [
        replace(
            _candidate(i, kw=rng.choice([11.0, 7.4]), used_30d=rng.randrange(60), apc=True),
            expected_kw=rng.choice([2.0, 4.2, 6.5, 11.0]),
        )
        if rng.random() < 0.4
        else _candidate(i, kw=rng.choice([0.5, 3.5, 7.0]), used_30d=rng.randrange(60))
        for i in range(1, count + 1)
    ]


@pytest.mark.parametrize("seed", range(12))
def test_a_spent_budget_defers_in_one_pass_what_the_refuse_and_reallocate_loop_defers(monkeypatch, seed):
    """GIVEN a budget with no 7.6 or 7.16 left WHEN a feeder needs part of what its chargers
    give THEN the plan is the one the allocation-by-allocation loop makes (the same chargers
    deferred, for the same reasons, the same left undeferred), made in one pass."""
    import curtailment.selection as selection

    candidates = _mixed_feeder(60, seed)
    required = [5.0, 40.0, 400.0][seed % 3]

    one_pass = selection_plan(candidates=candidates, required_kw=required, event_minutes=30, budget=_spent_budget())
    monkeypatch.setattr(selection, "_defer_all_spent", lambda usable, budget: [])
    loop = selection_plan(candidates=candidates, required_kw=required, event_minutes=30, budget=_spent_budget())

    assert one_pass.picks == loop.picks == []
    assert sorted(one_pass.decisions, key=lambda d: d.hcalcs_id) == sorted(loop.decisions, key=lambda d: d.hcalcs_id)
    assert one_pass.deferred == loop.deferred > 0
    assert (one_pass.covered_kw, one_pass.limits, one_pass.changes) == (loop.covered_kw, loop.limits, loop.changes)
