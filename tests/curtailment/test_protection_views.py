"""The time-to-failure clock, the escalation alarm and the DCC command budget on the
overview, feeder and event pages (server side; the browser test watches them live)."""

import datetime as dt

import pytest
from django.utils import timezone

from curtailment.choices import ClockState, EscalationStage
from curtailment.models import FailureClock
from tests.curtailment.factories import open_event
from tests.feeders.factories import FeederFactory

pytestmark = pytest.mark.django_db


def _clock(feeder, event=None, **fields) -> FailureClock:
    now = timezone.now()
    values = {
        "computed_at": now,
        "reading_at": now,
        "load_percent": 96.0,
        "slope_percent_per_minute": 1.0,
        "state": ClockState.RISING,
        "minutes_to_rating": 4.0,
        "minutes_to_failure": 9.0,
        "relief_needed_kw": 12.0,
        "relief_confirmed_kw": 3.0,
        "stage": EscalationStage.CHARGERS,
        "stage_started_at": now,
        "relief_due_at": dt.datetime(2026, 7, 1, 17, 5, 30, tzinfo=dt.UTC),
        **fields,
    }
    return FailureClock.objects.create(feeder=feeder, event=event, **values)


def test_the_overview_lists_clocks_alarms_first_and_counts_the_alarms(viewer_client):
    calm = FeederFactory(code="CALM01")
    loud = FeederFactory(code="LOUD01")
    _clock(calm, minutes_to_rating=2.0)
    _clock(loud, event=open_event(feeder=loud), stage=EscalationStage.OPERATOR, alarm="Relief on LOUD01 not confirmed")

    response = viewer_client.get("/")

    assert response.context["counters"]["protection_alarms"] == 1
    assert [a.feeder.code for a in response.context["attention"]["alarms"]] == ["LOUD01", "CALM01"]
    html = response.content.decode()
    assert f'id="clock-{loud.pk}"' in html and "▲ Relief on LOUD01 not confirmed" in html
    assert 'Rating reached in <strong class="minutes-to-rating">2 min</strong>' in html
    counters = viewer_client.get("/feeders/counters.json").json()
    assert counters["protection_alarms"] == 1 and "LOUD01" in counters["attention_html"]
    assert 'id="budget-table"' in counters["budget_html"]


def test_the_feeder_page_shows_its_clock_and_the_panel_is_served_alone_for_live_refresh(viewer_client):
    feeder = FeederFactory()
    event = open_event(feeder=feeder)
    _clock(feeder, event=event, state=ClockState.OVER_RATING, minutes_to_rating=0.0, minutes_to_failure=0.4)

    page = viewer_client.get(f"/feeders/{feeder.pk}/").content.decode()
    panel = viewer_client.get(f"/curtailment/feeders/{feeder.pk}/protection/")

    assert 'id="protection"' in page and "Over its rating" in page
    assert panel.status_code == 200
    body = panel.content.decode()
    assert body.lstrip().startswith('<section class="panel protection')
    assert 'fuse likely to blow in <strong class="minutes-to-failure">under 1 min</strong>' in body
    assert 'Relief 3.0 of 12.0 kW confirmed · <span class="stage">More chargers called</span>' in body
    assert "escalates at <time>18:05:30 BST</time>" in body  # Europe/London on screen


def test_a_feeder_not_at_risk_says_so_and_the_panel_needs_a_login(client, viewer_client):
    feeder = FeederFactory()
    assert "Not at risk" in viewer_client.get(f"/curtailment/feeders/{feeder.pk}/protection/").content.decode()
    client.logout()
    anonymous = client.get(f"/curtailment/feeders/{feeder.pk}/protection/")
    assert anonymous.status_code == 302 and "/accounts/login/" in anonymous["Location"]


def test_the_event_page_shows_the_clock_of_its_own_event_and_that_it_lasts_while_at_risk(viewer_client):
    feeder = FeederFactory()
    event = open_event(feeder=feeder, trigger="automatic", while_at_risk=True)
    _clock(feeder, event=event, alarm="Every eligible charger is at its usage limit")
    older = open_event(feeder=FeederFactory(), status="ended", ended_at=timezone.now())

    page = viewer_client.get(f"/curtailment/events/{event.pk}/").content.decode()
    live = viewer_client.get(f"/curtailment/events/{event.pk}/live.json").json()

    assert 'id="event-while-at-risk"' in page and 'id="event-clock"' in page
    assert "Every eligible charger is at its usage limit" in live["summary_html"]
    assert 'id="event-clock"' not in viewer_client.get(f"/curtailment/events/{older.pk}/").content.decode()
