"""Dashboard pages render for every role; every control is POST-only, CSRF-protected and
permission-checked server-side (anonymous -> login, viewer -> 403), and audited."""

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from core.models import AuditEntry
from curtailment.choices import ActionStatus, EventStatus
from curtailment.models import CurtailmentEvent
from feeders.choices import FeederStatus
from feeders.models import Feeder, FeederAlert, FeederReading
from tests.consent.factories import eligible_charger
from tests.curtailment.factories import action, open_event
from tests.feeders.factories import FeederFactory, SubstationFactory

pytestmark = pytest.mark.django_db

CURTAIL = {"reduction_kw": "25", "duration_minutes": "30", "reason": "fuse running hot", "confirm": "on"}
CANCEL = {"cancel-reason": "load has dropped", "cancel-confirm": "on"}
AUTO_OFF = {"auto-enabled": "0", "auto-reason": "works on the feeder", "auto-confirm": "on"}


def _control_urls(feeder):
    return [
        (reverse("feeders:feeder_curtail", args=[feeder.pk]), CURTAIL),
        (reverse("feeders:feeder_cancel", args=[feeder.pk]), CANCEL),
        (reverse("feeders:feeder_automatic", args=[feeder.pk]), AUTO_OFF),
        (reverse("feeders:feeder_acknowledge", args=[feeder.pk]), {"ack-note": "seen"}),
    ]


# --- pages ---------------------------------------------------------------------------------


def test_overview_lists_feeders_riskiest_first_with_counters(viewer_client):
    normal = FeederFactory(status=FeederStatus.NORMAL, last_load_percent=95.0)
    at_risk = FeederFactory(status=FeederStatus.AT_RISK, last_load_percent=91.0)
    FeederFactory(status=FeederStatus.OFFLINE)
    FeederAlert.objects.create(feeder=at_risk, kind="threshold", raised_at=timezone.now(), load_percent=91)
    response = viewer_client.get("/")
    assert response.status_code == 200
    codes = [row["feeder"].code for row in response.context["rows"]]
    assert codes.index(at_risk.code) < codes.index(normal.code)
    assert response.context["counters"] == {
        "open_alerts": 1,
        "active_events": 0,
        "chargers_curtailed": 0,
        "feeders_offline": 1,
        "protection_alarms": 0,
    }
    assert f'class="cell status-at_risk" data-feeder-id="{at_risk.pk}"'.encode() in response.content
    assert b"vendor/plotly/" not in response.content  # the network view is HTML: no chart library


def test_overview_filters_by_substation_area_status_and_high_risk(viewer_client):
    london = SubstationFactory(code="LDN1", licence_area="london")
    a = FeederFactory(substation=london, high_risk=False, status=FeederStatus.NORMAL)
    b = FeederFactory(high_risk=True, status=FeederStatus.AT_RISK)
    codes = lambda query: {row["feeder"].code for row in viewer_client.get("/" + query).context["rows"]}  # noqa: E731
    assert codes("?substation=LDN1") == {a.code}
    assert codes("?area=london") == {a.code}
    assert codes("?status=at_risk") == {b.code}
    assert codes("?high_risk=1") == {b.code}


def test_overview_paginates(viewer_client):
    for _ in range(55):
        FeederFactory()
    first = viewer_client.get("/")
    second = viewer_client.get("/?page=2")
    assert len(first.context["rows"]) == 50
    assert len(second.context["rows"]) == 5


def test_counters_json(viewer_client):
    feeder = FeederFactory()
    event = open_event(feeder=feeder)
    action(event=event, hcalcs=eligible_charger(feeder=feeder))
    assert viewer_client.get(reverse("feeders:counters")).json()["chargers_curtailed"] == 1


def test_feeder_page_shows_chart_and_controls_only_to_operators(viewer_client, operator):
    feeder = FeederFactory()
    now = timezone.now()
    for minutes in range(5):
        FeederReading.objects.create(
            feeder=feeder,
            measured_at=now - dt.timedelta(minutes=minutes),
            received_at=now,
            amps_l1=100,
            amps_l2=110,
            amps_l3=120,
            kw=75,
        )
    viewer_page = viewer_client.get(reverse("feeders:feeder_detail", args=[feeder.pk]))
    assert viewer_page.status_code == 200
    assert len(viewer_page.context["figure"]["data"][0]["x"]) == 5
    assert b'id="controls"' not in viewer_page.content
    assert b"curtail-form" not in viewer_page.content

    operator_client = Client()
    operator_client.force_login(operator)
    operator_page = operator_client.get(reverse("feeders:feeder_detail", args=[feeder.pk]))
    assert b'id="curtail-form"' in operator_page.content
    # Automatic mode is an engineer's control, not an operator's.
    assert b'id="automatic-form"' not in operator_page.content


def test_feeder_chart_json_switches_range(viewer_client):
    feeder = FeederFactory()
    now = timezone.now()
    FeederReading.objects.create(
        feeder=feeder, measured_at=now - dt.timedelta(hours=3), received_at=now, amps_l1=1, kw=1
    )
    FeederReading.objects.create(
        feeder=feeder, measured_at=now - dt.timedelta(minutes=3), received_at=now, amps_l1=2, kw=1
    )
    url = reverse("feeders:feeder_chart", args=[feeder.pk])
    assert len(viewer_client.get(url + "?hours=1").json()["data"][0]["x"]) == 1
    assert len(viewer_client.get(url + "?hours=6").json()["data"][0]["x"]) == 2


def test_event_page_lists_actions_and_live_json(viewer_client):
    feeder = FeederFactory()
    event = open_event(feeder=feeder)
    charger = eligible_charger(feeder=feeder)
    action(event=event, hcalcs=charger, status=ActionStatus.CONFIRMED)
    page = viewer_client.get(reverse("curtailment:event_detail", args=[event.pk]))
    assert page.status_code == 200
    assert charger.eui64.encode() in page.content
    live = viewer_client.get(reverse("curtailment:event_live", args=[event.pk])).json()
    assert 'data-status="confirmed"' in live["tables_html"]
    assert any(trace["name"] == "confirmed" for trace in live["figure"]["data"])


def test_event_list_renders(viewer_client):
    open_event(feeder=FeederFactory())
    assert viewer_client.get(reverse("curtailment:event_list")).status_code == 200


def test_compliance_counts_minutes_per_charger_against_limits(viewer_client):
    feeder = FeederFactory()
    Feeder.objects.filter(pk=feeder.pk).update(managed_since=dt.date(2026, 1, 1))
    busy, idle = eligible_charger(feeder=feeder), eligible_charger(feeder=feeder)
    past = open_event(
        feeder=feeder, started_at=timezone.now() - dt.timedelta(hours=2), minutes=60, status=EventStatus.ENDED
    )
    start = timezone.now() - dt.timedelta(hours=2)
    action(
        event=past,
        hcalcs=busy,
        minutes=45,
        started_at=start,
        ended_at=start + dt.timedelta(minutes=45),
        status=ActionStatus.ENDED,
    )
    response = viewer_client.get(reverse("curtailment:compliance"))
    assert response.status_code == 200
    nearest = response.context["nearest"]
    assert (nearest[0]["eui64"], nearest[0]["used_24h"], nearest[0]["used_30d"]) == (busy.eui64, 45, 45)
    assert {r["eui64"]: r["used_24h"] for r in nearest}[idle.eui64] == 0
    managed = response.context["feeders"][0]
    assert managed["market_solution_by"] == dt.date(2026, 7, 1)
    assert managed["implemented_by"] == dt.date(2027, 7, 1)
    live = viewer_client.get(reverse("curtailment:compliance_live")).json()
    assert "45 / 120" in live["tables_html"]


# --- audit ---------------------------------------------------------------------------------


def test_audit_page_filters_and_paginates(viewer_client, operator):
    from core.audit import audit_record

    audit_record(action="event.start", actor_user=operator, reason="hot fuse")
    audit_record(action="feeder.automatic_off", actor_user=operator, reason="works")
    audit_record(action="event.start", rule="auto-curtail", reason="alert")
    page = viewer_client.get(reverse("curtailment:audit") + "?action=event.")
    assert {row["entry"].reason for row in page.context["rows"]} == {"hot fuse", "alert"}
    page = viewer_client.get(reverse("curtailment:audit") + "?actor=rule:")
    assert [row["entry"].reason for row in page.context["rows"]] == ["alert"]


def test_audit_csv_streams_filtered_rows_and_neutralises_formulas(viewer_client, operator):
    from core.audit import audit_record

    audit_record(action="event.start", actor_user=operator, reason="=HYPERLINK(1)")
    audit_record(action="feeder.automatic_off", actor_user=operator, reason="works")
    response = viewer_client.get(reverse("curtailment:audit_csv") + "?action=event.")
    assert response.status_code == 200
    assert response.streaming
    body = b"".join(response.streaming_content).decode()
    lines = body.strip().splitlines()
    assert lines[0].startswith("at_utc,at_europe_london,actor,action")
    assert len(lines) == 2
    assert "'=HYPERLINK(1)" in lines[1]


def test_audit_date_filter_uses_london_days_across_the_clock_change(viewer_client, operator):
    from core.audit import audit_record

    # 2026-10-25 is 25 hours long in London: 00:00 BST = 23:00 UTC on the 24th, and the day
    # ends at 00:00 GMT on the 26th.
    inside = audit_record(action="x.inside", actor_user=operator)
    before = audit_record(action="x.before", actor_user=operator)
    after = audit_record(action="x.after", actor_user=operator)
    stamps = {
        inside.pk: dt.datetime(2026, 10, 25, 23, 59, tzinfo=dt.UTC),
        before.pk: dt.datetime(2026, 10, 24, 22, 59, tzinfo=dt.UTC),
        after.pk: dt.datetime(2026, 10, 26, 0, 0, tzinfo=dt.UTC),
    }
    from django.db import connection

    with connection.cursor() as cursor:
        # AuditEntry is append-only (a trigger refuses UPDATE); these rows are test fixtures,
        # so insert their copies with the wanted times instead of changing them.
        for pk, at in stamps.items():
            cursor.execute(
                "INSERT INTO curtailment_auditentry (at, actor, action, target_type, target_id, reason, inputs)"
                " SELECT %s, actor, action || '.copy', target_type, target_id, reason, inputs"
                " FROM curtailment_auditentry WHERE id = %s",
                [at, pk],
            )
    page = viewer_client.get(reverse("curtailment:audit") + "?action=x.&since=2026-10-25&until=2026-10-25")
    assert [row["entry"].action for row in page.context["rows"]] == ["x.inside.copy"]


# --- control permissions -------------------------------------------------------------------


def test_anonymous_control_posts_redirect_to_login(client):
    feeder = FeederFactory()
    for url, data in _control_urls(feeder):
        response = client.post(url, data)
        assert response.status_code == 302
        assert response.url.startswith(reverse("login"))
    assert not CurtailmentEvent.objects.exists()


def test_viewer_control_posts_are_forbidden(viewer_client):
    feeder = FeederFactory(automatic_curtailment=True)
    open_event(feeder=feeder)
    for url, data in _control_urls(feeder):
        assert viewer_client.post(url, data).status_code == 403
    feeder.refresh_from_db()
    assert feeder.automatic_curtailment is True
    assert CurtailmentEvent.objects.get().status == EventStatus.ACTIVE
    assert not AuditEntry.objects.exists()


def test_controls_refuse_get(operator_client):
    feeder = FeederFactory()
    for url, _ in _control_urls(feeder):
        assert operator_client.get(url).status_code == 405


def test_controls_require_csrf(operator):
    feeder = FeederFactory()
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(operator)
    response = strict.post(reverse("feeders:feeder_curtail", args=[feeder.pk]), CURTAIL)
    assert response.status_code == 403
    assert not CurtailmentEvent.objects.exists()


def test_operator_curtails_and_it_is_audited(operator_client, operator):
    feeder = FeederFactory()
    response = operator_client.post(reverse("feeders:feeder_curtail", args=[feeder.pk]), CURTAIL)
    event = CurtailmentEvent.objects.get(feeder=feeder)
    assert response.status_code == 302
    assert response.url == reverse("curtailment:event_detail", args=[event.pk])
    assert event.required_reduction_kw == 25
    assert event.requested_by == operator
    entry = AuditEntry.objects.get(action="event.start")
    assert (entry.actor_user, entry.reason, entry.target_id) == (operator, "fuse running hot", str(event.pk))


def test_curtail_without_reason_or_confirmation_is_400_and_stores_nothing(operator_client):
    feeder = FeederFactory()
    url = reverse("feeders:feeder_curtail", args=[feeder.pk])
    no_confirm = {k: v for k, v in CURTAIL.items() if k != "confirm"}
    for bad in (
        no_confirm,
        {**CURTAIL, "reason": ""},
        {**CURTAIL, "reduction_kw": "-3"},
        {**CURTAIL, "duration_minutes": "500"},
    ):
        response = operator_client.post(url, bad)
        assert response.status_code == 400
    assert b"errorlist" in response.content
    assert not CurtailmentEvent.objects.exists()
    assert not AuditEntry.objects.exists()


def test_curtail_beyond_the_feeder_rating_is_refused(operator_client):
    feeder = FeederFactory(rating_amps=100)  # 69 kW
    response = operator_client.post(
        reverse("feeders:feeder_curtail", args=[feeder.pk]), {**CURTAIL, "reduction_kw": "70"}
    )
    assert response.status_code == 400
    assert b"rating" in response.content


def test_operator_cancels_the_open_event(operator_client, operator):
    feeder = FeederFactory()
    event = open_event(feeder=feeder)
    response = operator_client.post(reverse("feeders:feeder_cancel", args=[feeder.pk]), CANCEL)
    assert response.status_code == 302
    event.refresh_from_db()
    assert event.status == EventStatus.ENDED
    # The engine audits the release it performs, with the operator and their reason.
    entry = AuditEntry.objects.get(action="event.release", target_id=str(event.pk))
    assert (entry.actor_user, entry.reason) == (operator, "load has dropped")
    assert AuditEntry.objects.get(action="event.end", target_id=str(event.pk)).actor_user == operator


def test_cancel_with_no_open_event_is_409(operator_client):
    feeder = FeederFactory()
    response = operator_client.post(reverse("feeders:feeder_cancel", args=[feeder.pk]), CANCEL)
    assert response.status_code == 409
    assert b"no open event" in response.content


def test_automatic_mode_is_for_engineers_and_audited(operator, engineer):
    feeder = FeederFactory(automatic_curtailment=True)
    url = reverse("feeders:feeder_automatic", args=[feeder.pk])
    operator_client, engineer_client = Client(), Client()
    operator_client.force_login(operator)
    engineer_client.force_login(engineer)
    assert operator_client.post(url, AUTO_OFF).status_code == 403
    feeder.refresh_from_db()
    assert feeder.automatic_curtailment is True

    assert engineer_client.post(url, AUTO_OFF).status_code == 302
    feeder.refresh_from_db()
    assert feeder.automatic_curtailment is False
    entry = AuditEntry.objects.get(action="feeder.automatic_off")
    assert entry.reason == "works on the feeder"
    # A second identical request changes and audits nothing.
    engineer_client.post(url, AUTO_OFF)
    assert AuditEntry.objects.filter(action="feeder.automatic_off").count() == 1


def test_curtail_when_an_event_is_already_open_is_409(operator_client):
    feeder = FeederFactory()
    open_event(feeder=feeder)
    response = operator_client.post(reverse("feeders:feeder_curtail", args=[feeder.pk]), CURTAIL)
    assert response.status_code == 409
    assert b"already has an open" in response.content
    assert CurtailmentEvent.objects.filter(feeder=feeder).count() == 1


def test_every_dashboard_page_and_json_needs_login(client):
    feeder = FeederFactory()
    event = open_event(feeder=feeder)
    urls = [
        "/",
        reverse("feeders:counters"),
        reverse("feeders:feeder_detail", args=[feeder.pk]),
        reverse("feeders:feeder_chart", args=[feeder.pk]),
        reverse("curtailment:event_list"),
        reverse("curtailment:event_detail", args=[event.pk]),
        reverse("curtailment:event_live", args=[event.pk]),
        reverse("curtailment:compliance"),
        reverse("curtailment:compliance_live"),
        reverse("curtailment:audit"),
        reverse("curtailment:audit_csv"),
    ]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response.url.startswith(reverse("login")), url


def test_every_page_renders_for_every_role(viewer, operator, engineer):
    feeder = FeederFactory()
    event = open_event(feeder=feeder)
    pages = [
        "/",
        reverse("feeders:feeder_detail", args=[feeder.pk]),
        reverse("curtailment:event_list"),
        reverse("curtailment:event_detail", args=[event.pk]),
        reverse("curtailment:compliance"),
        reverse("curtailment:audit"),
    ]
    for user in (viewer, operator, engineer):
        client = Client()
        client.force_login(user)
        for url in pages:
            response = client.get(url)
            assert response.status_code == 200, (user.username, url)
            assert b'href="/consent/"' in response.content
            assert b'id="stale-banner"' in response.content


def test_audit_csv_needs_the_export_permission(db):
    from django.contrib.auth.models import User

    nobody = User.objects.create_user(username="no-role", password="correct-horse-battery")
    client = Client()
    client.force_login(nobody)
    assert client.get(reverse("curtailment:audit_csv")).status_code == 403


def test_unknown_feeder_or_event_is_404(viewer_client):
    assert viewer_client.get(reverse("feeders:feeder_detail", args=[999999])).status_code == 404
    assert viewer_client.get(reverse("curtailment:event_detail", args=[999999])).status_code == 404


def test_operator_acknowledges_the_open_alert_once_and_it_is_audited(operator_client, operator):
    feeder = FeederFactory()
    alert = FeederAlert.objects.create(feeder=feeder, kind="threshold", raised_at=timezone.now(), load_percent=93)
    url = reverse("feeders:feeder_acknowledge", args=[feeder.pk])
    assert operator_client.post(url, {"ack-note": "watching it"}).status_code == 302
    assert operator_client.post(url, {"ack-note": "again"}).status_code == 302
    alert.refresh_from_db()
    assert alert.acknowledged_by == operator
    entry = AuditEntry.objects.get(action="alert.acknowledge")
    assert (entry.reason, entry.target_id) == ("watching it", str(alert.pk))


def test_viewer_cannot_acknowledge_and_no_alert_is_409(viewer, operator):
    feeder = FeederFactory()
    url = reverse("feeders:feeder_acknowledge", args=[feeder.pk])
    operator_client, viewer_client = Client(), Client()
    operator_client.force_login(operator)
    viewer_client.force_login(viewer)
    assert operator_client.post(url, {}).status_code == 409
    FeederAlert.objects.create(feeder=feeder, kind="threshold", raised_at=timezone.now())
    assert viewer_client.post(url, {}).status_code == 403
    assert FeederAlert.objects.get(feeder=feeder).acknowledged_at is None
    assert not AuditEntry.objects.exists()


def test_feeder_page_draws_the_detection_trend_of_a_rising_load(viewer_client):
    feeder = FeederFactory(rating_amps=400)
    now = timezone.now()
    for minute in range(11):
        amps = 200 + 15 * minute  # 50% rising 3.75 %/min to 87.5%
        FeederReading.objects.create(
            feeder=feeder,
            measured_at=now - dt.timedelta(minutes=10 - minute),
            received_at=now,
            amps_l1=amps,
            amps_l2=amps - 5,
            amps_l3=amps - 10,
            kw=amps * 0.69,
        )
    page = viewer_client.get(reverse("feeders:feeder_detail", args=[feeder.pk]))
    forecast = page.context["figure"]["data"][3]
    assert forecast["name"] == "Trend forecast"
    assert len(forecast["x"]) == 2
    assert forecast["y"][1] > forecast["y"][0] > 300
    assert b"reaches rating in" in page.content


def test_audit_page_paginates_by_100(viewer_client, operator):
    from core.audit import audit_record

    for n in range(105):
        audit_record(action="x.bulk", actor_user=operator, reason=f"entry {n}")
    first = viewer_client.get(reverse("curtailment:audit") + "?action=x.bulk")
    second = viewer_client.get(reverse("curtailment:audit") + "?action=x.bulk&page=2")
    assert len(first.context["rows"]) == 100
    assert len(second.context["rows"]) == 5
    assert b"action=x.bulk&amp;page=2" in first.content
