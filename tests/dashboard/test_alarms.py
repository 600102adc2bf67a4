"""The alarm list: every alarm, one row per feeder, most urgent first, paged with its count;
acknowledged from the list, one or many, with a reason, audited, operators only, all or
nothing."""

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from core.models import AuditEntry
from curtailment.choices import ClockState, EscalationStage
from curtailment.models import FailureClock
from dnoctl import alarm_views
from feeders.models import FeederAlert
from tests.curtailment.factories import open_event
from tests.feeders.factories import FeederFactory

pytestmark = pytest.mark.django_db

ACK_URL = "/alarms/acknowledge/"


def _alert(feeder, *, minutes_ago: float = 1, **fields) -> FeederAlert:
    fields.setdefault("load_percent", 93.0)
    return FeederAlert.objects.create(
        feeder=feeder, kind="threshold", raised_at=timezone.now() - dt.timedelta(minutes=minutes_ago), **fields
    )


def _clock(feeder, *, event=None, alert=None, **fields) -> FailureClock:
    now = timezone.now()
    values = {
        "computed_at": now,
        "state": ClockState.STEADY,
        "stage": EscalationStage.WAITING,
        "stage_started_at": now,
        **fields,
    }
    return FailureClock.objects.create(feeder=feeder, event=event, alert=alert, **values)


def _codes(response) -> list[str]:
    return [alarm.feeder.code for alarm in response.context["alarms"]]


def test_the_list_orders_by_severity_then_time_left_then_newest(viewer_client):
    over = FeederFactory(code="OVER")
    _clock(over, alert=_alert(over, minutes_ago=20), state=ClockState.OVER_RATING, minutes_to_failure=3.0)
    loud = FeederFactory(code="LOUD")
    loud_event = open_event(feeder=loud)
    _clock(loud, event=loud_event, alert=_alert(loud, minutes_ago=30), stage=EscalationStage.OPERATOR, alarm="Act")
    slow = FeederFactory(code="SLOW")
    _clock(slow, alert=_alert(slow, minutes_ago=2), state=ClockState.RISING, minutes_to_rating=8.0)
    fast = FeederFactory(code="FAST")
    _clock(fast, alert=_alert(fast, minutes_ago=10), state=ClockState.RISING, minutes_to_rating=2.0)
    older, newer = FeederFactory(code="OLDER"), FeederFactory(code="NEWER")
    _alert(older, minutes_ago=15)
    _alert(newer, minutes_ago=5)
    relieved = FeederFactory(code="RELIEVED")
    _clock(relieved, event=open_event(feeder=relieved), alert=_alert(relieved), relieved=True)
    manual = FeederFactory(code="MANUAL")
    open_event(feeder=manual)

    response = viewer_client.get("/alarms/")

    assert response.status_code == 200
    assert _codes(response) == ["OVER", "LOUD", "FAST", "SLOW", "NEWER", "OLDER", "RELIEVED", "MANUAL"]
    severities = [alarm.severity.label for alarm in response.context["alarms"]]
    assert severities == ["Critical", "Critical", "High", "High", "High", "High", "Medium", "Low"]


def test_a_feeder_with_an_alert_and_an_event_is_one_row(viewer_client):
    feeder = FeederFactory(code="BOTH")
    alert = _alert(feeder)
    event = open_event(feeder=feeder, alert=alert)

    response = viewer_client.get("/alarms/")

    (alarm,) = response.context["alarms"]
    assert (alarm.alert, alarm.event) == (alert, event)
    html = response.content.decode()
    assert html.count('data-feeder-code="BOTH"') == 1
    assert f"Event {event.pk}" in html


def test_every_alarm_is_reachable_page_by_page_with_the_count(viewer_client, monkeypatch):
    monkeypatch.setattr(alarm_views, "ALARMS_PER_PAGE", 10)
    for n in range(25):
        _alert(FeederFactory(code=f"F{n:02d}"), minutes_ago=n + 1)

    pages = [viewer_client.get(f"/alarms/?page={number}") for number in (1, 2, 3)]

    seen = [code for page in pages for code in _codes(page)]
    assert sorted(seen) == [f"F{n:02d}" for n in range(25)]
    assert "page 3 of 3 · 21\N{EN DASH}25 of 25" in pages[2].content.decode()
    assert '<span id="alarm-total">25</span> alarms' in pages[0].content.decode()


def test_new_alarms_are_marked_apart_from_acknowledged_ones(viewer_client, operator):
    seen = _alert(FeederFactory(code="SEEN"), acknowledged_at=timezone.now(), acknowledged_by=operator)
    fresh = _alert(FeederFactory(code="FRESH"))

    response = viewer_client.get("/alarms/")
    html = response.content.decode()

    assert response.context["counts"]["alarms_unacknowledged"] == 1
    assert response.context["counts"]["unacknowledged"] == [{"key": f"alert-{fresh.pk}", "feeder": "FRESH"}]
    assert f'data-alarm-key="alert-{fresh.pk}"' in html and f'data-alarm-key="alert-{seen.pk}"' in html
    assert "NEW · not acknowledged" in html
    assert "✓ olly.operator" in html


def test_a_viewer_sees_the_list_without_the_controls_and_cannot_acknowledge(viewer_client):
    alert = _alert(FeederFactory())

    page = viewer_client.get("/alarms/").content.decode()
    forged = viewer_client.post(ACK_URL, {"alert": [alert.pk], "reason": "viewer tries"})

    assert 'id="alarm-ack-form"' not in page and 'name="alert"' not in page
    assert forged.status_code == 403
    assert FeederAlert.objects.get(pk=alert.pk).acknowledged_at is None
    assert not AuditEntry.objects.filter(action="alert.acknowledge").exists()


def test_anonymous_is_sent_to_log_in(client):
    assert "/accounts/login/" in client.get("/alarms/")["Location"]
    assert "/accounts/login/" in client.post(ACK_URL, {"reason": "x"})["Location"]


def test_an_operator_acknowledges_three_at_once_with_a_reason_each_audited(operator_client, operator):
    alerts = [_alert(FeederFactory(code=f"ACK{n}")) for n in range(3)]
    untouched = _alert(FeederFactory(code="LEFT"))

    response = operator_client.post(ACK_URL, {"alert": [a.pk for a in alerts], "reason": "crew informed"}, follow=True)

    assert response.status_code == 200
    assert "Acknowledged 3 alarms: ACK0, ACK1, ACK2." in response.content.decode()
    assert all(FeederAlert.objects.get(pk=a.pk).acknowledged_by == operator for a in alerts)
    assert FeederAlert.objects.get(pk=untouched.pk).acknowledged_at is None
    entries = AuditEntry.objects.filter(action="alert.acknowledge")
    # Sorted by alert id as a number: target_id is text, so "100" would sort before "99".
    assert sorted((e.inputs["alert_id"], e.actor_user, e.reason) for e in entries) == [
        (a.pk, operator, "crew informed") for a in sorted(alerts, key=lambda a: a.pk)
    ]
    assert {e.inputs["via"] for e in entries} == {"alarm list (3 at once)"}


def test_a_rows_own_button_acknowledges_that_row_only(operator_client):
    ticked, pressed = _alert(FeederFactory()), _alert(FeederFactory())

    operator_client.post(ACK_URL, {"alert": [ticked.pk], "only": pressed.pk, "reason": "looking at it"})

    assert FeederAlert.objects.get(pk=pressed.pk).acknowledged_at is not None
    assert FeederAlert.objects.get(pk=ticked.pk).acknowledged_at is None


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"reason": "nothing ticked"}, "Select at least one alarm"),
        ({"alert": ["{ok}"], "reason": ""}, "This field is required"),
        ({"alert": ["{ok}", "abc"], "reason": "seen"}, "Alarm ids must be whole numbers"),
        ({"alert": ["{ok}", "999999"], "reason": "seen"}, "No such alert: 999999"),
        ({"alert": ["{ok}", "{cleared}"], "reason": "seen"}, "The alert on GONE has cleared"),
    ],
)
def test_a_bad_acknowledgement_is_refused_whole_naming_the_problem(operator_client, body, message):
    ok = _alert(FeederFactory(code="OPEN"))
    cleared = _alert(FeederFactory(code="GONE"), cleared_at=timezone.now())
    ids = {"ok": ok.pk, "cleared": cleared.pk}
    body = {key: [v.format(**ids) for v in value] if isinstance(value, list) else value for key, value in body.items()}

    response = operator_client.post(ACK_URL, body)

    assert response.status_code == 400
    assert message in response.content.decode()
    assert FeederAlert.objects.get(pk=ok.pk).acknowledged_at is None
    assert not AuditEntry.objects.filter(action="alert.acknowledge").exists()


def test_an_alarm_acknowledged_by_someone_else_a_moment_ago_is_not_an_error(operator_client, engineer):
    taken = _alert(FeederFactory(code="TAKEN"), acknowledged_at=timezone.now(), acknowledged_by=engineer)
    mine = _alert(FeederFactory(code="MINE"))

    response = operator_client.post(ACK_URL, {"alert": [taken.pk, mine.pk], "reason": "seen"}, follow=True)

    html = response.content.decode()
    assert "Acknowledged 1 alarm: MINE." in html
    assert "Already acknowledged: TAKEN (erin.engineer)." in html
    assert FeederAlert.objects.get(pk=taken.pk).acknowledged_by == engineer


def test_acknowledging_needs_the_csrf_token(operator):
    alert = _alert(FeederFactory())
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(operator)

    assert strict.post(ACK_URL, {"alert": [alert.pk], "reason": "seen"}).status_code == 403
    assert FeederAlert.objects.get(pk=alert.pk).acknowledged_at is None


def test_the_list_json_carries_the_rows_and_the_keys_the_cue_compares(viewer_client):
    alert = _alert(FeederFactory(code="CUE"))

    body = viewer_client.get(reverse("alarms_json")).json()

    assert body["alarms_total"] == 1 and body["alarms_unacknowledged"] == 1
    assert body["unacknowledged"] == [{"key": f"alert-{alert.pk}", "feeder": "CUE"}]
    assert 'data-feeder-code="CUE"' in body["list_html"]
    assert "as of" in body["list_html"]


def test_the_overview_panel_says_how_many_alarms_it_does_not_show(viewer_client):
    for n in range(12):
        _alert(FeederFactory(code=f"P{n:02d}"), minutes_ago=n + 1)

    response = viewer_client.get("/")
    counters = viewer_client.get(reverse("feeders:counters")).json()

    assert len(response.context["attention"]["alarms"]) == 10
    assert "Showing 10 of 12: open the alarm list" in response.content.decode()
    assert counters["alarms_total"] == 12 and len(counters["unacknowledged"]) == 12
    assert "Showing 10 of 12" in counters["attention_html"]


def test_an_alarm_escalated_to_the_operator_after_its_acknowledgement_needs_it_again(operator_client, engineer):
    now = timezone.now()
    feeder = FeederFactory(code="LOUDER")
    alert = _alert(feeder, acknowledged_at=now - dt.timedelta(minutes=10), acknowledged_by=engineer)
    _clock(
        feeder,
        event=open_event(feeder=feeder, alert=alert),
        alert=alert,
        stage=EscalationStage.OPERATOR,
        stage_started_at=now - dt.timedelta(minutes=2),
        alarm="Relief on LOUDER not confirmed in time",
    )
    calm = FeederFactory(code="CALMER")  # acknowledged after its escalation: nothing to do
    calm_alert = _alert(calm, acknowledged_at=now, acknowledged_by=engineer)
    _clock(calm, alert=calm_alert, stage=EscalationStage.OPERATOR, stage_started_at=now - dt.timedelta(minutes=1))

    listed = operator_client.get("/alarms/")
    alarm = next(a for a in listed.context["alarms"] if a.feeder.code == "LOUDER")
    operator_client.post(ACK_URL, {"alert": [alert.pk], "reason": "calling the field crew"})
    again = operator_client.post(ACK_URL, {"alert": [alert.pk], "reason": "me too"}, follow=True)

    assert alarm.needs_acknowledgement and alarm.key.startswith(f"alert-{alert.pk}-escalated-")
    assert "ESCALATED · acknowledge again" in listed.content.decode()
    assert [a["feeder"] for a in listed.context["counts"]["unacknowledged"]] == ["LOUDER"]
    stored = FeederAlert.objects.get(pk=alert.pk)
    assert stored.acknowledged_at > now - dt.timedelta(minutes=1)
    assert stored.acknowledged_by.username == "olly.operator"
    (entry,) = AuditEntry.objects.filter(action="alert.acknowledge")
    assert entry.reason == "calling the field crew" and entry.inputs["escalated_at"] is not None
    assert "Already acknowledged: LOUDER (olly.operator)." in again.content.decode()
    assert operator_client.get("/alarms/").context["counts"]["alarms_unacknowledged"] == 0
