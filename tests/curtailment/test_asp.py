"""ASP call-offs (NF14, curtailment.services.asp): what is asked, what is credited, and the
fallback to chargers when a provider does not confirm. Against the real database; time is
passed explicitly (``at``), as the worker's check would see it."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import override_settings

from core.models import AuditEntry
from curtailment.choices import AspCallOffStatus
from curtailment.models import AspCallOff, AspReport
from curtailment.openadr.schemas import ReportIn
from curtailment.services import curtailment_event_cancel, curtailment_event_start
from curtailment.services.asp import (
    ReportRefused,
    asp_call_off,
    asp_calloffs_check,
    asp_pending_kw,
    asp_relief_kw,
    asp_report_record,
)
from tests.consent.factories import eligible_charger
from tests.curtailment.asp_factories import asp_contract, asp_ven, delivery_report
from tests.feeders.factories import FeederFactory

pytestmark = pytest.mark.django_db

OPENADR = {"CONFIRM_S": 60, "REPORT_FRESH_S": 120, "CHECK_S": 10.0, "TOKEN_TTL_S": 3600}


@pytest.fixture(autouse=True)
def _openadr_settings():
    with override_settings(OPENADR=OPENADR):
        yield


def _event(operator, *, reduction_kw: float, chargers: int = 4, contracts=((15.0, True),)):
    feeder = FeederFactory()
    for _ in range(chargers):
        eligible_charger(feeder=feeder)
    made = [
        asp_contract(feeders=[feeder], available_kw=kw, ven=asp_ven()[0] if with_ven else None)
        for kw, with_ven in contracts
    ]
    event = curtailment_event_start(
        feeder=feeder, reduction_kw=reduction_kw, duration_minutes=30, reason="t", requested_by=operator
    )
    return event, made


def _report(calloff, kw: float, at: dt.datetime, **kwargs) -> AspReport:
    body = delivery_report(calloff, kw=kw, **kwargs)
    return asp_report_record(ven=calloff.contract.ven, report=ReportIn.model_validate(body), body=body, at=at)


def _after_deadline(calloff) -> dt.datetime:
    return calloff.confirm_by + dt.timedelta(seconds=1)


def test_the_asp_is_called_off_first_and_counted_until_its_deadline(operator):
    event, (contract,) = _event(operator, reduction_kw=20)
    calloff = AspCallOff.objects.get(event=event)
    assert (calloff.contract, calloff.kw, calloff.counted_kw) == (contract, 15, 15)
    assert calloff.confirm_by == event.started_at + dt.timedelta(seconds=OPENADR["CONFIRM_S"])
    assert event.asp_calloff_kw == 15
    assert event.actions.count() == 1  # 5 kW left: one 7 kW charger
    # Nothing is confirmed yet: all 15 kW are pending, none is relief.
    assert asp_relief_kw(event=event, at=event.started_at) == 0
    assert asp_pending_kw(event=event, at=event.started_at) == 15
    entry = AuditEntry.objects.get(action="asp.call_off")
    assert entry.inputs["contract"] == contract.reference and entry.inputs["kw"] == 15
    assert entry.inputs["openadr_event"] == f"calloff-{calloff.pk}"


def test_a_provider_that_confirms_in_full_is_credited_and_no_charger_is_added(operator):
    event, _ = _event(operator, reduction_kw=12)
    calloff = AspCallOff.objects.get(event=event)
    assert event.actions.count() == 0
    _report(calloff, 12, at=event.started_at + dt.timedelta(seconds=20))
    assert asp_relief_kw(event=event, at=event.started_at + dt.timedelta(seconds=21)) == 12

    assert asp_calloffs_check(at=_after_deadline(calloff)) == 0

    calloff.refresh_from_db()
    event.refresh_from_db()
    assert calloff.counted_kw == 12 and event.asp_calloff_kw == 12
    assert event.actions.count() == 0
    assert not AuditEntry.objects.filter(action="asp.fallback").exists()
    assert AuditEntry.objects.get(action="asp.report").inputs["delivered_kw"] == 12


def test_a_provider_that_delivers_half_is_credited_half_and_chargers_cover_the_rest(operator):
    event, _ = _event(operator, reduction_kw=14, chargers=4)
    calloff = AspCallOff.objects.get(event=event)
    _report(calloff, 7, at=event.started_at + dt.timedelta(seconds=20))

    assert asp_calloffs_check(at=_after_deadline(calloff)) == 1

    event.refresh_from_db()
    assert event.asp_calloff_kw == 7
    assert asp_relief_kw(event=event, at=_after_deadline(calloff)) == 7
    covered = sum(action.expected_kw for action in event.actions.all())
    assert covered >= 7
    fallback = AuditEntry.objects.get(action="asp.fallback")
    assert fallback.inputs["confirmed_kw"] == 7 and fallback.inputs["counted_before_kw"] == 14
    assert "confirms 7.0 of 14.0 kW" in fallback.reason
    assert AuditEntry.objects.filter(action="event.top_up", reason__startswith="ASP fallback").exists()


def test_a_provider_that_never_answers_is_replaced_by_chargers_after_its_deadline(operator):
    event, _ = _event(operator, reduction_kw=14, chargers=4)
    calloff = AspCallOff.objects.get(event=event)
    # Before the deadline the call-off is still counted on: no charger yet.
    assert asp_calloffs_check(at=calloff.confirm_by - dt.timedelta(seconds=1)) == 0
    assert event.actions.count() == 0

    assert asp_calloffs_check(at=_after_deadline(calloff)) == 1

    event.refresh_from_db()
    assert event.asp_calloff_kw == 0
    assert sum(action.expected_kw for action in event.actions.all()) >= 14
    fallback = AuditEntry.objects.get(action="asp.fallback")
    assert "reported no delivery by its deadline" in fallback.reason
    # A second look finds nothing new to do.
    assert asp_calloffs_check(at=_after_deadline(calloff) + dt.timedelta(seconds=10)) == 0
    assert AuditEntry.objects.filter(action="asp.fallback").count() == 1


def test_delivery_that_stops_being_reported_stops_being_credited(operator):
    event, _ = _event(operator, reduction_kw=12)
    calloff = AspCallOff.objects.get(event=event)
    reported = event.started_at + dt.timedelta(seconds=20)
    _report(calloff, 12, at=reported)
    asp_calloffs_check(at=_after_deadline(calloff))
    assert event.actions.count() == 0

    stale = reported + dt.timedelta(seconds=OPENADR["REPORT_FRESH_S"] + 1)
    assert asp_relief_kw(event=event, at=stale) == 0
    assert asp_calloffs_check(at=stale) == 1

    event.refresh_from_db()
    assert event.asp_calloff_kw == 0 and event.actions.exists()
    assert "stopped reporting" in AuditEntry.objects.get(action="asp.fallback").reason


def test_credit_is_capped_at_what_was_asked(operator):
    event, _ = _event(operator, reduction_kw=10)
    calloff = AspCallOff.objects.get(event=event)
    _report(calloff, 25, at=event.started_at + dt.timedelta(seconds=5))
    assert asp_relief_kw(event=event, at=event.started_at + dt.timedelta(seconds=6)) == 10


def test_contracts_are_called_in_turn_and_one_without_a_ven_is_skipped_and_audited(operator):
    event, (no_ven, _first, _second) = _event(
        operator, reduction_kw=20, contracts=((50.0, False), (8.0, True), (30.0, True))
    )
    by_contract = {c.contract_id: c.kw for c in AspCallOff.objects.filter(event=event)}
    assert no_ven.pk not in by_contract
    assert sum(by_contract.values()) == pytest.approx(20)
    assert AuditEntry.objects.get(action="asp.not_called").inputs == {"contracts": [no_ven.reference]}


def test_the_engine_can_ask_for_more_within_what_the_contract_has_left(operator):
    event, _ = _event(operator, reduction_kw=10, contracts=((15.0, True),))
    calloff = AspCallOff.objects.get(event=event)
    later = event.started_at + dt.timedelta(seconds=30)

    asked = asp_call_off(event=event, kw=10, at=later)

    assert asked == pytest.approx(5)  # 15 kW contract, 10 already called
    calloff.refresh_from_db()
    event.refresh_from_db()
    assert calloff.kw == 15 and event.asp_calloff_kw == 15
    assert calloff.confirm_by == later + dt.timedelta(seconds=OPENADR["CONFIRM_S"])
    assert asp_call_off(event=event, kw=3, at=later) == 0  # nothing left


def test_release_ends_the_calloff_and_later_reports_are_kept_but_not_credited(operator):
    event, _ = _event(operator, reduction_kw=12)
    calloff = AspCallOff.objects.get(event=event)
    curtailment_event_cancel(event=event, reason="done", cancelled_by=operator)
    calloff.refresh_from_db()
    assert calloff.status == AspCallOffStatus.RELEASED and calloff.released_at is not None
    assert AuditEntry.objects.get(action="asp.release").inputs["calloffs"] == [calloff.pk]

    report = _report(calloff, 12, at=calloff.released_at + dt.timedelta(seconds=5))

    calloff.refresh_from_db()
    assert report.delivered_kw == 12 and calloff.confirmed_kw == 0
    assert AuditEntry.objects.get(action="asp.report").inputs["credited"] is False


@pytest.mark.parametrize(
    ("change", "status", "words"),
    [
        ({"clientName": "someone-else"}, 403, "clientName"),
        ({"eventID": "calloff-999999"}, 404, "eventID"),
        ({"programID": "contract-999999"}, 400, "programID"),
        (
            {
                "payloadDescriptors": [
                    {"objectType": "REPORT_PAYLOAD_DESCRIPTOR", "payloadType": "DELTA_USAGE", "units": "KWH"}
                ]
            },
            400,
            "units",
        ),
        (
            {
                "resources": [
                    {
                        "resourceName": "AGGREGATED_REPORT",
                        "intervals": [{"id": 0, "payloads": [{"type": "USAGE", "values": [1]}]}],
                    }
                ]
            },
            400,
            "no DELTA_USAGE",
        ),
        (
            {
                "resources": [
                    {
                        "resourceName": "AGGREGATED_REPORT",
                        "intervals": [{"id": 0, "payloads": [{"type": "DELTA_USAGE", "values": ["lots"]}]}],
                    }
                ]
            },
            400,
            "number of kW",
        ),
    ],
)
def test_a_bad_report_is_refused_naming_the_problem_and_nothing_is_stored(operator, change, status, words):
    event, _ = _event(operator, reduction_kw=12)
    calloff = AspCallOff.objects.get(event=event)
    body = {**delivery_report(calloff, kw=12), **change}
    with pytest.raises(ReportRefused) as refused:
        asp_report_record(ven=calloff.contract.ven, report=ReportIn.model_validate(body), body=body)
    assert refused.value.status == status and words in refused.value.detail
    assert not AspReport.objects.exists()
    calloff.refresh_from_db()
    assert calloff.reported_at is None


def test_a_vens_report_on_another_providers_calloff_is_refused(operator):
    event, _ = _event(operator, reduction_kw=12)
    calloff = AspCallOff.objects.get(event=event)
    other, _secret = asp_ven()
    body = delivery_report(calloff, kw=12, client_name=other.ven_name)
    with pytest.raises(ReportRefused) as refused:
        asp_report_record(ven=other, report=ReportIn.model_validate(body), body=body)
    assert refused.value.status == 404
    assert not AspReport.objects.exists()


def test_the_event_page_shows_what_the_provider_confirmed_and_the_fallback(operator, viewer_client):
    from django.urls import reverse

    event, _ = _event(operator, reduction_kw=14, chargers=4)
    calloff = AspCallOff.objects.get(event=event)
    _report(calloff, 7, at=event.started_at + dt.timedelta(seconds=20))
    asp_calloffs_check(at=_after_deadline(calloff))

    page = viewer_client.get(reverse("curtailment:event_detail", args=[event.pk])).content.decode()

    assert "14.0 kW asked" in page
    assert "7.0 kW reported" in page and "counted 7.0 kW" in page
    assert "chargers covered a shortfall" in page
