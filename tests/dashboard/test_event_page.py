"""The event page: cancel from it (operators only, CSRF, a reason and a confirmation), the
decision in words with EUI-64s, no shortfall left over once the event is over, legible
milestones."""

import datetime as dt
import re

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from consent.models import Consent
from core.models import AuditEntry
from curtailment.choices import EventEndReason, EventStatus
from curtailment.models import CurtailmentEvent
from curtailment.services import curtailment_event_start
from curtailment.views import event_milestones
from dnoctl.charts import event_timeline_figure
from feeders.models import FeederAlert
from tests.consent.factories import HcalcsFactory, eligible_charger
from tests.curtailment.factories import action, open_event
from tests.feeders.factories import FeederFactory

pytestmark = pytest.mark.django_db

CANCEL = {"cancel-reason": "crew on site, load is down", "cancel-confirm": "on"}


def _cancel_url(event) -> str:
    return reverse("curtailment:event_cancel", args=[event.pk])


def _page(client, event) -> str:
    response = client.get(reverse("curtailment:event_detail", args=[event.pk]))
    assert response.status_code == 200
    return response.content.decode()


# --- cancel ---------------------------------------------------------------------------------


def test_operator_cancels_from_the_event_page_and_the_audit_names_them(operator_client, operator):
    feeder = FeederFactory()
    event = open_event(feeder=feeder)
    assert 'id="event-cancel-form"' in _page(operator_client, event)
    response = operator_client.post(_cancel_url(event), CANCEL)
    assert response.status_code == 302
    assert response.url == reverse("curtailment:event_detail", args=[event.pk])
    event.refresh_from_db()
    assert (event.status, event.end_reason) == (EventStatus.ENDED, EventEndReason.CANCELLED)
    release = AuditEntry.objects.get(action="event.release", target_id=str(event.pk))
    end = AuditEntry.objects.get(action="event.end", target_id=str(event.pk))
    assert (release.actor_user, release.reason) == (operator, "crew on site, load is down")
    assert (end.actor, end.actor_user) == (operator.username, operator)
    page = _page(operator_client, event)
    assert f'id="event-ended-by">({operator.username})' in page
    assert 'id="event-cancel-form"' not in page


def test_a_viewer_sees_no_cancel_control_and_a_forged_cancel_is_refused(viewer_client):
    event = open_event(feeder=FeederFactory())
    assert 'id="event-cancel-form"' not in _page(viewer_client, event)
    assert viewer_client.post(_cancel_url(event), CANCEL).status_code == 403
    event.refresh_from_db()
    assert event.status == EventStatus.ACTIVE
    assert not AuditEntry.objects.exists()


def test_an_anonymous_cancel_goes_to_the_login_page(client):
    event = open_event(feeder=FeederFactory())
    response = client.post(_cancel_url(event), CANCEL)
    assert response.status_code == 302 and response.url.startswith(reverse("login"))
    assert CurtailmentEvent.objects.get().status == EventStatus.ACTIVE


def test_cancel_needs_the_csrf_token(operator):
    event = open_event(feeder=FeederFactory())
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(operator)
    assert strict.post(_cancel_url(event), CANCEL).status_code == 403
    assert CurtailmentEvent.objects.get().status == EventStatus.ACTIVE


def test_cancel_is_post_only(operator_client):
    event = open_event(feeder=FeederFactory())
    assert operator_client.get(_cancel_url(event)).status_code == 405


@pytest.mark.parametrize(
    "data",
    [
        {"cancel-confirm": "on"},
        {"cancel-reason": "ok", "cancel-confirm": "on"},  # too short to say why
        {"cancel-reason": "crew on site, load is down"},  # not confirmed
    ],
)
def test_cancel_without_a_reason_or_the_confirmation_is_400_and_changes_nothing(operator_client, data):
    event = open_event(feeder=FeederFactory())
    response = operator_client.post(_cancel_url(event), data)
    assert response.status_code == 400
    assert b"errorlist" in response.content
    assert CurtailmentEvent.objects.get().status == EventStatus.ACTIVE
    assert not AuditEntry.objects.exists()


@pytest.mark.parametrize(("status", "words"), [(EventStatus.RELEASING, "being released"), (EventStatus.ENDED, "over")])
def test_cancelling_an_event_no_longer_active_is_409(operator_client, status, words):
    event = open_event(feeder=FeederFactory(), status=status, end_reason=EventEndReason.EARLY_RELEASE)
    response = operator_client.post(_cancel_url(event), CANCEL)
    assert response.status_code == 409
    assert words in response.content.decode()
    event.refresh_from_db()
    assert event.end_reason == EventEndReason.EARLY_RELEASE
    assert not AuditEntry.objects.exists()


# --- the decision in words ------------------------------------------------------------------


def _event_with_a_real_decision(operator):
    """Three eligible 7 kW chargers for 10 kW (two picked, one not needed) and one whose
    tenancy has not granted consent: the record the engine writes."""
    feeder = FeederFactory()
    eligible = [eligible_charger(feeder=feeder) for _ in range(3)]
    refused = eligible_charger(feeder=feeder)
    Consent.objects.filter(tenancy__premise=refused.meter.premise).update(status="withdrawn")
    labelled_other = HcalcsFactory(meter=eligible[0].meter, switch_index=2, label="heat_pump")
    event = curtailment_event_start(
        feeder=feeder, reduction_kw=10, duration_minutes=30, reason="fuse running hot", requested_by=operator
    )
    return event, eligible, refused, labelled_other


def test_the_decision_reads_in_words_and_names_every_charger_by_its_eui64(viewer_client, operator):
    event, eligible, refused, labelled_other = _event_with_a_real_decision(operator)
    page = _page(viewer_client, event)
    picked = set(event.actions.values_list("hcalcs__eui64", flat=True))
    not_needed = {c.eui64 for c in eligible} - picked
    assert len(picked) == 2 and len(not_needed) == 1

    summary = page[page.index('id="decision"') : page.index('id="decision-raw"')]
    why = re.search(r'id="decision-why">(.*?)</dd>', summary, re.S)[1]
    assert "olly.operator" in why and "fuse running hot" in why
    needed = re.search(r'id="decision-needed">(.*?)</dd>', summary, re.S)[1]
    assert "10.0 kW" in needed and "30 minutes" in needed
    chosen = re.search(r'id="decision-chosen">(.*?)</dd>', summary, re.S)[1]
    assert all(eui in chosen for eui in picked)
    not_chosen = re.search(r'id="decision-not-chosen">(.*?)</dd>', summary, re.S)[1]
    assert all(eui in not_chosen for eui in not_needed | {refused.eui64, labelled_other.eui64})
    assert "already covered" in not_chosen and "consent" in not_chosen
    # Words, not the record's keys, booleans or database ids.
    for raw in ("hcalcs_id", "shortfall_kw", "True", "False", "None", "{"):
        assert raw not in summary, raw
    for hcalcs in (*eligible, refused, labelled_other):
        assert f">{hcalcs.pk}<" not in summary
    # The record itself stays on the page, behind a disclosure.
    raw = page[page.index('id="decision-raw"') :]
    assert raw.index("<summary>") < raw.index("hcalcs_id")


def test_an_automatic_decision_says_which_alert_and_load_started_it(viewer_client):
    from curtailment.services import event_open_for_alert
    from tests.curtailment.helpers import alert_on, automatic_feeder, reading

    feeder, _ = automatic_feeder(chargers=3)
    reading(feeder, percent=95, at=timezone.now())
    alert = alert_on(feeder, percent=95)
    event = event_open_for_alert(alert_id=alert.pk)
    page = _page(viewer_client, event)
    why = re.search(r'id="decision-why">(.*?)</dd>', page, re.S)[1]
    assert feeder.code in why and "95.0% of its rating" in why and "at-risk level 90%" in why
    needed = re.search(r'id="decision-needed">(.*?)</dd>', page, re.S)[1]
    assert "clear level (80% of rating)" in needed and "while the feeder is at risk" in needed
    assert isinstance(alert, FeederAlert)


def test_a_shortfall_shows_while_the_event_is_short_and_not_once_it_is_over(viewer_client, operator):
    feeder = FeederFactory()
    eligible_charger(feeder=feeder)  # 7 kW for 10 kW asked: 3 kW short
    event = curtailment_event_start(
        feeder=feeder, reduction_kw=10, duration_minutes=30, reason="fuse running hot", requested_by=operator
    )
    assert event.decision["shortfall_kw"] == pytest.approx(3.0)
    page = _page(viewer_client, event)
    assert re.search(r'id="event-shortfall">▲ Short by 3.0 kW now', page)
    assert "3.0 kW could not be covered at the start" in page

    CurtailmentEvent.objects.filter(pk=event.pk).update(
        status=EventStatus.ENDED, ended_at=timezone.now(), end_reason=EventEndReason.CANCELLED
    )
    event.actions.update(status="ended", ended_at=timezone.now(), end_reason="cancelled")
    event.refresh_from_db()
    page = _page(viewer_client, event)
    live = viewer_client.get(reverse("curtailment:event_live", args=[event.pk])).json()
    for html in (page, live["summary_html"]):
        assert "event-shortfall" not in html and "Short by" not in html
    # What the decision could not cover at the start stays, in the past tense.
    assert "could not be covered at the start" in live["tables_html"]


# --- milestones -----------------------------------------------------------------------------


def test_milestones_seconds_apart_each_get_their_own_row_inside_the_range(operator):
    feeder = FeederFactory()
    charger = eligible_charger(feeder=feeder)
    start = timezone.now()
    alert = FeederAlert.objects.create(
        feeder=feeder, kind="threshold", raised_at=start - dt.timedelta(minutes=5), load_percent=97
    )
    event = open_event(feeder=feeder, alert=alert, started_at=start, trigger="automatic")
    done = action(event=event, hcalcs=charger, started_at=start, ended_at=start + dt.timedelta(seconds=2))
    done.end_reason = "override"
    done.save()
    CurtailmentEvent.objects.filter(pk=event.pk).update(ended_at=start + dt.timedelta(seconds=3), status="ended")
    event.refresh_from_db()
    actions = list(event.actions.select_related("hcalcs"))
    milestones = event_milestones(event, actions)
    assert len(milestones) == 4  # alert, start, override and end, three of them within 3 s
    figure = event_timeline_figure(event=event, actions=actions, milestones=milestones)
    rows = figure["data"][0]["y"]
    assert figure["data"][0]["name"] == "Milestones"
    assert len(set(rows)) == len(rows) == 4
    assert not set(rows) & {charger.eui64}
    assert [row.split(" ", 1)[1].split(" ")[0] for row in rows] == ["Alert", "Start", "Override", "End"]
    x_range = figure["layout"]["xaxis"]["range"]
    assert all(x_range[0] <= x <= x_range[1] for x in figure["data"][0]["x"])
