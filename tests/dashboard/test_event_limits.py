"""The event page shows each limited charger's level over time (issue 17): the timeline
labels a limit's bar with its levels and the kW withheld and draws a strip of its levels
along it; the actions table shows the level in force with the earlier ones; Europe/London
times throughout."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from core.models import AuditEntry
from core.times import london_label, london_wallclock
from curtailment.choices import ActionKind, ActionStatus
from curtailment.models import CurtailmentAction
from curtailment.selectors import action_limit_steps
from curtailment.services import curtailment_event_start, event_top_up
from dnoctl.charts import event_timeline_figure, limit_label
from tests.consent.factories import eligible_charger
from tests.curtailment.factories import action, open_event
from tests.feeders.factories import FeederFactory

pytestmark = pytest.mark.django_db


def _live(client, event) -> dict:
    response = client.get(reverse("curtailment:event_live", args=[event.pk]))
    assert response.status_code == 200
    return response.json()


def _limits_lowered(operator):
    """Three 11 kW APCs limited by the engine, confirmed, then lowered by the closed loop
    when more is needed; returns the event and each action's level before the change."""
    feeder = FeederFactory()
    for _ in range(3):
        eligible_charger(feeder=feeder, controller_type="apc", rated_kw=11.0)
    event = curtailment_event_start(
        feeder=feeder, reduction_kw=6, duration_minutes=60, reason="t", requested_by=operator
    )
    first = {a.pk: a.level_percent for a in event.actions.all()}
    CurtailmentAction.objects.filter(event=event).update(status=ActionStatus.CONFIRMED, confirmed_at=timezone.now())
    event_top_up(event_id=event.pk, reason="feeder still above its at-risk level", extra_kw=6)
    return event, first


def test_the_timeline_labels_each_limit_with_its_levels_and_the_kw_withheld(operator, viewer_client):
    event, first = _limits_lowered(operator)
    actions = {a.pk: a for a in event.actions.all()}
    assert all(a.kind == ActionKind.LIMIT and a.level_percent < first[a.pk] for a in actions.values())

    figure = _live(viewer_client, event)["figure"]

    [bars] = [trace for trace in figure["data"] if trace["name"] == "confirmed"]
    for pk, label in zip(bars["customdata"], bars["text"], strict=True):
        a = actions[pk]
        assert label == f"limited {first[pk]} % → {a.level_percent} % · {a.expected_kw:.1f} kW withheld"
    [strip] = [trace for trace in figure["data"] if trace["name"] == "limit level"]
    lowered = {
        int(e.target_id): e.at for e in AuditEntry.objects.filter(action="action.limit_lower", target_id__in=actions)
    }
    for pk, a in actions.items():
        mine = [i for i, eui64 in enumerate(strip["y"]) if eui64 == a.hcalcs.eui64]
        assert [strip["marker"]["color"][i] for i in mine] == [first[pk], a.level_percent]
        assert [strip["base"][i] for i in mine] == [london_wallclock(a.confirmed_at), london_wallclock(lowered[pk])]
        assert f"{a.expected_kw:.1f} kW withheld" in strip["hovertext"][mine[1]]


def test_the_actions_table_shows_the_level_in_force_the_earlier_ones_and_the_kw_withheld(operator, viewer_client):
    event, first = _limits_lowered(operator)

    page = viewer_client.get(reverse("curtailment:event_detail", args=[event.pk])).content.decode()

    assert ">kW withheld</th>" in page
    for a in event.actions.all():
        row = page[page.index(f'id="action-{a.pk}"') :].split("</tr>")[0]
        assert f'Limited to <strong class="action-level">{a.level_percent} %</strong> of 11.0 kW' in row
        assert f'<span class="muted limit-history">({first[a.pk]} % → {a.level_percent} %)</span>' in row
        assert f'<td class="num">{a.expected_kw:.1f}</td>' in row
    assert 'id="throttled-count">3<' in page and 'id="switched-off-count">0<' in page


def test_a_lifted_limit_reads_lifted_with_summer_times_in_london():
    feeder = FeederFactory()
    apc = eligible_charger(feeder=feeder, controller_type="apc", rated_kw=11.0)
    off = eligible_charger(feeder=feeder, rated_kw=7.0)
    start = dt.datetime(2026, 7, 1, 17, 0, tzinfo=dt.UTC)  # 18:00 BST
    event = open_event(feeder=feeder, started_at=start, planned_end_at=start + dt.timedelta(minutes=60))
    limit = action(
        event=event,
        hcalcs=apc,
        started_at=start,
        minutes=60,
        kind=ActionKind.LIMIT,
        level_percent=48,
        demand_kw=11.0,
        status=ActionStatus.ENDED,
    )
    switch_off = action(event=event, hcalcs=off, started_at=start, minutes=60)
    lowered_at, lifted_at = start + dt.timedelta(minutes=10), start + dt.timedelta(minutes=25)
    for change, level, previous, kw, at in (("lower", 48, 62, 5.72, lowered_at), ("lift", 100, 48, 0.0, lifted_at)):
        AuditEntry.objects.create(  # as the engine's closed loop records it (_limits_change)
            at=at,
            actor="rule:auto-curtail",
            action=f"action.limit_{change}",
            target_type="curtailment.curtailmentaction",
            target_id=str(limit.pk),
            reason=f"{change} from {previous} % to {level} %",
            inputs={"event_id": event.pk, "level": level, "previous_level": previous, "reduction_kw": kw},
        )
    CurtailmentAction.objects.filter(pk=limit.pk).update(ended_at=lifted_at + dt.timedelta(seconds=20))
    limit.refresh_from_db()

    steps = action_limit_steps(actions=[limit, switch_off])

    assert list(steps) == [limit.pk]
    assert [(s.change, s.level_percent) for s in steps[limit.pk]] == [("set", 62), ("lower", 48), ("lift", 100)]
    assert steps[limit.pk][0].withheld_kw == pytest.approx(11.0 - 6.82)  # 62 % of 11 kW still drawn
    assert limit_label(steps=steps[limit.pk]) == "limited 62 % → 48 % → lifted · 5.7 kW withheld"
    figure = event_timeline_figure(event=event, actions=[limit, switch_off], milestones=[], limit_steps=steps)
    [ended] = [trace for trace in figure["data"] if trace["name"] == "ended"]
    assert ended["text"] == ["limited 62 % → 48 % → lifted · 5.7 kW withheld"]
    [confirmed] = [trace for trace in figure["data"] if trace["name"] == "confirmed"]
    assert confirmed["text"] == ["switched off"]
    [strip] = [trace for trace in figure["data"] if trace["name"] == "limit level"]
    assert strip["base"] == ["2026-07-01 18:00:00", "2026-07-01 18:10:00"]  # BST wall clock
    assert strip["x"] == [10 * 60_000, 15 * 60_000]  # the lift ends the last level
    assert f"{london_label(lowered_at)} to {london_label(lifted_at)}" in strip["hovertext"][1]
    assert "BST" in strip["hovertext"][1]


def test_an_event_without_limits_has_no_level_strip():
    feeder = FeederFactory()
    event = open_event(feeder=feeder)
    switch_off = action(event=event, hcalcs=eligible_charger(feeder=feeder))

    figure = event_timeline_figure(event=event, actions=[switch_off], milestones=[], limit_steps={})

    assert [trace["name"] for trace in figure["data"]] == ["Milestones", "confirmed"]


def test_the_decision_says_which_chargers_were_limited_and_which_switched_off(operator, viewer_client):
    feeder = FeederFactory()
    apcs = [eligible_charger(feeder=feeder, controller_type="apc", rated_kw=11.0) for _ in range(2)]
    hcalcs = eligible_charger(feeder=feeder, rated_kw=7.0)
    event = curtailment_event_start(
        feeder=feeder, reduction_kw=20, duration_minutes=30, reason="t", requested_by=operator
    )
    levels = {a.hcalcs.eui64: a.level_percent for a in event.actions.filter(kind=ActionKind.LIMIT)}
    assert set(levels) == {c.eui64 for c in apcs}

    page = viewer_client.get(reverse("curtailment:event_detail", args=[event.pk])).content.decode()

    chosen = page.split('id="decision-chosen">')[1].split("</dd>")[0]
    assert chosen.startswith("2 chargers limited, 1 switched off, ")
    for eui64, level in levels.items():
        assert re.search(rf"{eui64}</code> limited to {level} % \(\d+\.\d kW\), \d+\.\d kW withheld for", chosen)
    assert re.search(rf"{hcalcs.eui64}</code> 7\.0 kW for \d+ min", chosen)


def test_the_notifications_table_says_what_each_customer_was_told(viewer_client):
    from consent.notifications import ChargerPause, notification_event_queue

    feeder = FeederFactory()
    apc = eligible_charger(feeder=feeder, controller_type="apc", rated_kw=11.0)
    off = eligible_charger(feeder=feeder)
    event = open_event(feeder=feeder)
    end = event.planned_end_at
    notification_event_queue(
        event=event,
        pauses=[
            ChargerPause(apc.pk, event.started_at, end, True, level_percent=48, limit_kw=5.28),
            ChargerPause(off.pk, event.started_at, end, True),
        ],
    )

    page = viewer_client.get(reverse("curtailment:event_detail", args=[event.pk])).content.decode()

    assert sorted(re.findall(r'<td class="notice-told">(.*?)</td>', page)) == ["limited to 48 %", "paused"]
