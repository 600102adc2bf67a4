"""Where the dashboard lists a feeder's curtailed chargers, a limited one (APC, SRV 7.16)
shows its level, never "off": the feeder page's open event, its live refresh, the alarm
list and the overview's attention panel (issue 17)."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from django.utils import timezone

from curtailment.choices import ActionKind, ActionStatus
from curtailment.models import CurtailmentAction
from feeders.models import FeederAlert
from tests.consent.factories import eligible_charger
from tests.curtailment.factories import action, open_event
from tests.feeders.factories import FeederFactory

pytestmark = pytest.mark.django_db


def _mixed_event():
    """An open event with two limited APCs (one still unconfirmed), one switched-off
    HCALCS, and one limit already ended (not listed: it holds nothing now)."""
    feeder = FeederFactory()
    event = open_event(feeder=feeder)
    limits = [
        action(
            event=event,
            hcalcs=eligible_charger(feeder=feeder, controller_type="apc", rated_kw=11.0),
            kind=ActionKind.LIMIT,
            level_percent=level,
            demand_kw=11.0,
            expected_kw=round(11.0 - 11.0 * level / 100, 2),
            status=status,
        )
        for level, status in ((48, ActionStatus.CONFIRMED), (62, ActionStatus.SENT))
    ]
    off = action(event=event, hcalcs=eligible_charger(feeder=feeder, rated_kw=7.0))
    action(
        event=event,
        hcalcs=eligible_charger(feeder=feeder, controller_type="apc", rated_kw=11.0),
        kind=ActionKind.LIMIT,
        level_percent=40,
        status=ActionStatus.ENDED,
    )
    return feeder, event, limits, off


def _item(html: str, eui64: str) -> str:
    [item] = re.findall(rf"<li [^>]*>\s*<code>{eui64}</code>.*?</li>", html, flags=re.S)
    return item


def test_the_feeder_page_lists_a_limited_charger_with_its_level_not_off(viewer_client):
    feeder, _event, limits, off = _mixed_event()

    html = viewer_client.get(reverse("feeders:feeder_detail", args=[feeder.pk])).content.decode()

    first = _item(html, limits[0].hcalcs.eui64)
    assert 'data-kind="limit"' in first and "limited to <strong" in first and ">48 %</strong>" in first
    assert "5.7 kW withheld" in first and " off " not in first
    second = _item(html, limits[1].hcalcs.eui64)
    assert ">62 %</strong>" in second and "sent" in second  # not yet confirmed, and says so
    switched_off = _item(html, off.hcalcs.eui64)
    assert 'data-kind="switch_off"' in switched_off and "off <span" in switched_off and "limited" not in switched_off
    assert html.count('<li data-kind="limit"') == 2  # the ended limit holds nothing now
    mix = re.search(r'<p id="event-chargers-mix">(.*?)</p>', html, flags=re.S).group(1)
    # Withheld now: what the devices confirmed (the limit still sent holds nothing yet).
    assert mix == "<strong>2</strong> limited · <strong>1</strong> off · withheld now 12.7 kW (5.7 limited, 7.0 off)"


def test_the_feeder_pages_charger_list_is_refreshed_as_levels_move(viewer_client):
    feeder, _event, limits, _off = _mixed_event()
    url = reverse("curtailment:feeder_event_chargers", args=[feeder.pk])
    CurtailmentAction.objects.filter(pk=limits[0].pk).update(level_percent=39, expected_kw=6.71)

    html = viewer_client.get(url).content.decode()

    assert '<div id="event-chargers"' in html
    assert ">39 %</strong>" in _item(html, limits[0].hcalcs.eui64)
    assert viewer_client.get(reverse("curtailment:feeder_event_chargers", args=[999999])).status_code == 404


def test_the_feeder_pages_charger_list_needs_a_login(client):
    feeder, *_ = _mixed_event()
    response = client.get(reverse("curtailment:feeder_event_chargers", args=[feeder.pk]))
    assert response.status_code == 302 and response.url.startswith(reverse("login"))


def test_the_alarm_list_and_the_overview_say_how_many_chargers_are_limited_and_off(viewer_client):
    feeder, *_ = _mixed_event()
    FeederAlert.objects.create(feeder=feeder, kind="threshold", raised_at=timezone.now(), load_percent=95.0)

    for url in ("/alarms/", reverse("overview")):
        html = viewer_client.get(url).content.decode()
        assert '3 chargers<span class="event-mix">: 2 limited, 1 off</span>' in html, url


def test_a_feeder_with_only_switched_off_chargers_reads_as_before(viewer_client):
    feeder = FeederFactory()
    event = open_event(feeder=feeder)
    action(event=event, hcalcs=eligible_charger(feeder=feeder))

    html = viewer_client.get("/alarms/").content.decode()
    page = viewer_client.get(reverse("feeders:feeder_detail", args=[feeder.pk])).content.decode()

    assert "1 charger</" in html or "1 charger)" in html
    assert "event-mix" not in html and "limited" not in page.split('id="event-chargers"')[1].split("</div>")[0]
