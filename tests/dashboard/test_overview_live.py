"""The overview keeps its order as data changes (the rows the page fetches after a status
change come sorted and paged by the server), sorts by any column, shows page N of M, and
draws every substation and feeder by live status; the feeder chart opens on the last hour."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from core.times import london_wallclock
from feeders.choices import FeederStatus
from feeders.models import Feeder, FeederReading
from tests.feeders.factories import FeederFactory, SubstationFactory

pytestmark = pytest.mark.django_db


def _row_codes(html: str, codes: list[str]) -> list[str]:
    return sorted(codes, key=lambda code: html.index(f">{code}</a>"))


def test_the_rows_follow_a_status_change_in_risk_order(viewer_client):
    first = FeederFactory(code="AAA", status=FeederStatus.NORMAL, last_load_percent=50.0)
    second = FeederFactory(code="BBB", status=FeederStatus.NORMAL, last_load_percent=40.0)
    url = reverse("overview_rows")
    before = viewer_client.get(url).json()["rows_html"]

    Feeder.objects.filter(pk=second.pk).update(status=FeederStatus.AT_RISK)
    after = viewer_client.get(url).json()["rows_html"]

    assert _row_codes(before, ["AAA", "BBB"]) == ["AAA", "BBB"]
    assert _row_codes(after, ["AAA", "BBB"]) == ["BBB", "AAA"]
    assert f'data-feeder-id="{first.pk}"' in after


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("sort=feeder&dir=asc", ["A1", "B2", "C3"]),
        ("sort=feeder&dir=desc", ["C3", "B2", "A1"]),
        ("sort=load&dir=desc", ["B2", "A1", "C3"]),
        ("sort=load&dir=asc", ["C3", "A1", "B2"]),
        ("sort=substation", ["C3", "B2", "A1"]),
        ("sort=nonsense", ["C3", "B2", "A1"]),  # unknown: riskiest first
    ],
)
def test_every_column_sorts_both_ways(viewer_client, query, expected):
    FeederFactory(code="A1", substation=SubstationFactory(code="Z"), last_load_percent=50.0)
    FeederFactory(code="B2", substation=SubstationFactory(code="Y"), last_load_percent=70.0)
    FeederFactory(code="C3", substation=SubstationFactory(code="X"), last_load_percent=None)
    Feeder.objects.filter(code="C3").update(status=FeederStatus.AT_RISK)

    html = viewer_client.get(f"/?{query}").content.decode()

    assert _row_codes(html, expected) == expected


def test_the_sorted_header_says_so_and_links_to_the_other_way(viewer_client):
    FeederFactory()
    html = viewer_client.get("/?sort=load&dir=desc&status=normal").content.decode()
    assert 'aria-sort="descending"><a href="?status=normal&amp;sort=load&amp;dir=asc"' in html
    assert '<a href="?status=normal&amp;sort=feeder&amp;dir=asc" class="sort">Feeder</a>' in html


def test_the_pager_says_which_page_of_how_many_above_and_below_the_table(viewer_client):
    for _ in range(120):
        FeederFactory()
    html = viewer_client.get("/?page=2&sort=feeder").content.decode()
    rows = viewer_client.get(reverse("overview_rows") + "?page=2&sort=feeder").json()
    assert html.count("page 2 of 3 · 51\N{EN DASH}100 of 120") == 2
    assert 'href="?sort=feeder&amp;page=3"' in html
    assert "page 2 of 3 · 51\N{EN DASH}100 of 120" in rows["pager_html"]
    assert rows["count"] == 120


def test_the_network_view_shows_every_substation_and_feeder_by_status(viewer_client):
    calm = SubstationFactory(code="CALM")
    busy = SubstationFactory(code="BUSY")
    FeederFactory(code="CALM-F1", substation=calm, status=FeederStatus.NORMAL)
    risky = FeederFactory(code="BUSY-F1", substation=busy, status=FeederStatus.NORMAL)
    FeederFactory(code="BUSY-F2", substation=busy, status=FeederStatus.NORMAL)
    Feeder.objects.filter(pk=risky.pk).update(status=FeederStatus.AT_RISK)
    filtered = viewer_client.get("/?substation=CALM")  # the list filters; the network does not

    html = viewer_client.get(reverse("overview_network")).content.decode()

    assert filtered.content.decode().count('class="substation ') == 2
    assert '<li class="substation status-at_risk" data-substation="BUSY"' in html
    assert '<li class="substation status-normal" data-substation="CALM"' in html
    assert f'class="cell status-at_risk" data-feeder-id="{risky.pk}"' in html
    assert 'aria-label="BUSY-F1: At risk">F1</a>' in html


def test_the_feeder_chart_opens_on_the_last_hour(viewer_client):
    feeder = FeederFactory()
    now = timezone.now()
    for minutes in (5, 90):
        FeederReading.objects.create(
            feeder=feeder, measured_at=now - dt.timedelta(minutes=minutes), received_at=now, amps_l1=100, kw=20
        )

    response = viewer_client.get(reverse("feeders:feeder_detail", args=[feeder.pk]))

    figure = response.context["figure"]
    start, end = (dt.datetime.fromisoformat(edge) for edge in figure["layout"]["xaxis"]["range"])
    assert response.context["hours"] == 1
    assert len(figure["data"][0]["x"]) == 1  # the reading 90 minutes ago is off the chart
    assert start <= dt.datetime.fromisoformat(london_wallclock(now - dt.timedelta(hours=1))) + dt.timedelta(minutes=1)
    assert end > dt.datetime.fromisoformat(london_wallclock(now))  # the live edge is inside, not at the border
    assert 'data-hours="1"' in response.content.decode()


def _quiet_feeders(substation, count: int) -> None:
    """``count`` normal feeders in one statement (a network large enough to be compact)."""
    Feeder.objects.bulk_create(
        [
            FeederFactory.build(code=f"{substation.code}-F{n:04d}", substation=substation, monitor_device_id=None)
            for n in range(count)
        ]
    )


def test_a_large_network_draws_a_cell_only_for_each_feeder_not_normal(viewer_client, settings):
    settings.DNOCTL = {**settings.DNOCTL, "NETWORK_CELLS_MAX": 10}
    calm = SubstationFactory(code="CALM")
    busy = SubstationFactory(code="BUSY")
    _quiet_feeders(calm, 8)
    _quiet_feeders(busy, 3)
    risky = FeederFactory(code="BUSY-R1", substation=busy)
    Feeder.objects.filter(pk=risky.pk).update(status=FeederStatus.AT_RISK)

    html = viewer_client.get(reverse("overview_network")).content.decode()
    page = viewer_client.get("/").content.decode()

    assert 'data-compact="1"' in html
    assert html.count('class="cell ') == 1  # only the feeder at risk
    assert f'class="cell status-at_risk" data-feeder-id="{risky.pk}"' in html
    assert '<li class="substation status-at_risk" data-substation="BUSY"' in html
    assert '<li class="substation status-normal" data-substation="CALM"' in html
    assert '<li class="normal-not-drawn muted">+3 normal</li>' in html  # beside BUSY's one cell
    assert '<li class="normal-not-drawn muted">8 normal</li>' in html
    assert "every substation, and each feeder not normal, live" in page


def test_a_network_at_the_limit_draws_every_feeder(viewer_client, settings):
    settings.DNOCTL = {**settings.DNOCTL, "NETWORK_CELLS_MAX": 10}
    _quiet_feeders(SubstationFactory(code="CALM"), 10)

    html = viewer_client.get(reverse("overview_network")).content.decode()

    assert "data-compact" not in html
    assert html.count('class="cell status-normal"') == 10
    assert "normal-not-drawn" not in html
