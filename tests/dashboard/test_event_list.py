"""The events list as NetBox lists things (filters, search, pages with counts, CSV of the
filtered list), and audit targets as links to their pages."""

import csv
import datetime as dt
import io
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from core.audit import audit_record
from core.models import AuditEntry
from core.times import LONDON
from curtailment.choices import EventEndReason, EventStatus, EventTrigger
from curtailment.models import CurtailmentEvent
from tests.consent.factories import eligible_charger
from tests.curtailment.factories import action, open_event
from tests.feeders.factories import FeederFactory, SubstationFactory

pytestmark = pytest.mark.django_db

LIST = reverse("curtailment:event_list")
CSV = reverse("curtailment:event_csv")


def _ids(response) -> list[int]:
    assert response.status_code == 200, response.content[:500]
    return [int(i) for i in re.findall(r'<tr class="event-\w+" data-event-id="(\d+)"', response.content.decode())]


def _csv(response) -> list[dict]:
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


def _ended(feeder, *, days_ago: float, reason: str = EventEndReason.DURATION, **fields) -> CurtailmentEvent:
    started = timezone.now() - dt.timedelta(days=days_ago)
    return open_event(
        feeder=feeder,
        started_at=started,
        planned_end_at=started + dt.timedelta(minutes=30),
        status=EventStatus.ENDED,
        ended_at=started + dt.timedelta(minutes=20),
        end_reason=reason,
        **fields,
    )


@pytest.fixture
def history(operator):
    """Five events on two substations: running, cancelled, released early, automatic..."""
    north, south = SubstationFactory(code="SS-NORTH"), SubstationFactory(code="SS-SOUTH")
    f1, f2, f3 = FeederFactory(substation=north), FeederFactory(substation=north), FeederFactory(substation=south)
    return {
        "running": open_event(feeder=f1, requested_by=operator, reason="fuse running hot"),
        "cancelled": _ended(f2, days_ago=1, reason=EventEndReason.CANCELLED, requested_by=operator),
        "early": _ended(f3, days_ago=2, reason=EventEndReason.EARLY_RELEASE, trigger=EventTrigger.AUTOMATIC),
        "old": _ended(f1, days_ago=40, trigger=EventTrigger.AUTOMATIC),
        "external": _ended(f3, days_ago=3, trigger=EventTrigger.EXTERNAL, reason=EventEndReason.NOTHING_TO_CURTAIL),
        "feeders": (f1, f2, f3),
    }


def test_each_filter_narrows_the_list(viewer_client, history):
    f1, _, f3 = history["feeders"]
    pk = {name: event.pk for name, event in history.items() if name != "feeders"}
    cases = {
        "status=active": [pk["running"]],
        "status=ended&trigger=automatic": [pk["early"], pk["old"]],
        "trigger=manual": [pk["running"], pk["cancelled"]],
        "end_reason=cancelled": [pk["cancelled"]],
        "substation=SS-SOUTH": [pk["early"], pk["external"]],
        f"feeder={f1.code.lower()}": [pk["running"], pk["old"]],
        "feeder=" + f3.code + "&end_reason=early_release": [pk["early"]],
    }
    for query, expected in cases.items():
        assert _ids(viewer_client.get(f"{LIST}?{query}")) == expected, query


def test_the_date_range_is_in_london_days(viewer_client, history):
    today = timezone.now().astimezone(LONDON).date()
    since = (today - dt.timedelta(days=4)).isoformat()
    until = (today - dt.timedelta(days=1)).isoformat()
    expected = [history[n].pk for n in ("cancelled", "early", "external")]
    assert _ids(viewer_client.get(f"{LIST}?since={since}&until={until}")) == expected


def test_search_finds_an_event_by_id_feeder_operator_reason_or_charger_eui64(viewer_client, history, operator):
    running = history["running"]
    charger = eligible_charger(feeder=running.feeder)
    action(event=running, hcalcs=charger)
    assert _ids(viewer_client.get(f"{LIST}?q={running.pk}"))[0] == running.pk
    assert _ids(viewer_client.get(f"{LIST}?q=running hot")) == [running.pk]
    assert _ids(viewer_client.get(f"{LIST}?q={charger.eui64.lower()}")) == [running.pk]
    assert _ids(viewer_client.get(f"{LIST}?q={operator.username}")) == [running.pk, history["cancelled"].pk]
    assert _ids(viewer_client.get(f"{LIST}?q=SS-SOUTH")) == [history["early"].pk, history["external"].pk]


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("status=sleeping", "status"),
        ("trigger=robot", "trigger"),
        ("substation=NOPE", "substation"),
        ("feeder=NO-SUCH-FEEDER", "no feeder with the code"),
        ("since=03/12/2026", "since"),
        ("since=2026-12-03&until=2026-12-01", "before the"),
        ("per_page=7", "per_page"),
    ],
)
def test_a_bad_filter_is_a_400_naming_it_and_lists_nothing(viewer_client, history, query, named):
    response = viewer_client.get(f"{LIST}?{query}")
    assert response.status_code == 400
    body = response.content.decode()
    errors = body[body.index('id="event-filter-errors"') :]
    assert named in errors[: errors.index("</div>")]
    assert 'data-event-id="' not in body
    assert viewer_client.get(f"{CSV}?{query}").status_code == 400


def test_pages_say_how_many_match_and_keep_the_filters(viewer_client):
    feeder = FeederFactory()
    for days in range(30):
        _ended(feeder, days_ago=days + 1)
    first = viewer_client.get(f"{LIST}?status=ended&per_page=25").content.decode()
    assert "30 matching" in first and "page 1 of 2 · 30 rows" in first
    assert "status=ended&amp;per_page=25&amp;page=2" in first
    second = viewer_client.get(f"{LIST}?status=ended&per_page=25&page=2")
    assert len(_ids(second)) == 5


def test_the_csv_is_the_filtered_list_with_ongoing_minutes_so_far(viewer_client, history):
    running = history["running"]
    CurtailmentEvent.objects.filter(pk=running.pk).update(started_at=timezone.now() - dt.timedelta(minutes=7))
    rows = _csv(viewer_client.get(f"{CSV}?trigger=manual"))
    assert [int(r["event_id"]) for r in rows] == [running.pk, history["cancelled"].pk]
    now_row, ended_row = rows
    assert now_row["ongoing"] == "yes" and 7 <= float(now_row["minutes"]) < 8  # not the planned 30
    assert ended_row["ongoing"] == "no" and float(ended_row["minutes"]) == 20
    assert now_row["feeder"] == running.feeder.code and now_row["substation"] == "SS-NORTH"
    assert ended_row["end_reason"] == "cancelled" and ended_row["ended_at_utc"]


def test_every_csv_cell_is_guarded_against_formulas(viewer_client, operator):
    feeder = FeederFactory(code="=1+2")
    open_event(feeder=feeder, reason="@SUM(A1)", requested_by=operator)
    operator.username = "-rm"
    operator.save()
    row = _csv(viewer_client.get(CSV))[0]
    assert (row["feeder"], row["reason"], row["requested_by"]) == ("'=1+2", "'@SUM(A1)", "'-rm")


def test_the_events_csv_needs_the_export_permission(client, django_user_model):
    nobody = django_user_model.objects.create_user(username="no.roles", password="x")
    client.force_login(nobody)
    assert client.get(CSV).status_code == 403


# --- audit targets as links -----------------------------------------------------------------


def test_audit_targets_are_links_to_their_pages(viewer_client, operator):
    from consent.models import Consent

    feeder = FeederFactory(code="FDR-LINK")
    charger = eligible_charger(feeder=feeder)
    event = open_event(feeder=feeder)
    done = action(event=event, hcalcs=charger)
    consent = Consent.objects.get(tenancy__premise=charger.meter.premise)
    for target in (event, done, feeder, charger, consent, feeder.substation):
        audit_record(action="test.link", actor_user=operator, target=target, reason="x")
    audit_record(action="test.none", actor_user=operator, reason="no target")
    body = viewer_client.get(reverse("curtailment:audit") + "?action=test.").content.decode()
    cells = re.findall(r'<td class="target">(.*?)</td>', body)
    premise = reverse("consent:premise_detail", args=[charger.meter.premise_id])
    event_page = reverse("curtailment:event_detail", args=[event.pk])
    expected = [
        f'<a href="{reverse("overview")}?substation={feeder.substation.code}">substation {feeder.substation.code}</a>',
        f'<a href="{premise}">consent at {charger.meter.premise.reference}</a>',
        f'<a href="{premise}">charger {charger.eui64}</a>',
        f'<a href="{reverse("feeders:feeder_detail", args=[feeder.pk])}">feeder FDR-LINK</a>',
        f'<a href="{event_page}#action-{done.pk}">charger {charger.eui64} in event {event.pk}</a>',
        f'<a href="{event_page}">event {event.pk} on FDR-LINK</a>',
    ]
    assert cells[1:] == expected  # newest first; the first entry has no target
    assert "muted" in cells[0]  # a dash: no target
    # Each link opens the page it names.
    for href in re.findall(r'href="([^"#]+)', "".join(expected)):
        assert viewer_client.get(href).status_code == 200, href
    assert AuditEntry.objects.filter(action="test.link").count() == 6
