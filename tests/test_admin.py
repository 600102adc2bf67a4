"""The Django admin: engineers are staff and may look at everything, edit only reference
data (audited), and nobody may add, change or delete append-only history."""

import pytest
from django.contrib import admin
from django.test import RequestFactory

from consent.models import Consent
from core.audit import audit_record
from core.models import AppendOnlyModel, AuditEntry
from curtailment.models import AspContract
from tests.consent.factories import ConsentFactory
from tests.feeders.factories import FeederFactory

pytestmark = pytest.mark.django_db

BROWSED = [
    "/admin/",
    "/admin/feeders/feeder/",
    "/admin/consent/consent/",
    "/admin/curtailment/curtailmentevent/",
    "/admin/core/auditentry/",
    "/admin/consent/consentchange/",
    "/admin/dcc/servicerequesttransition/",
    "/admin/dcc/inbounddocument/",
]


def test_an_engineer_is_staff_and_browses_every_table(engineer, engineer_client):
    assert engineer.is_staff and not engineer.is_superuser
    for url in BROWSED:
        assert engineer_client.get(url).status_code == 200, url


@pytest.mark.parametrize("role_client", ["viewer_client", "operator_client"])
def test_viewers_and_operators_are_sent_to_the_admin_login(role_client, request):
    client = request.getfixturevalue(role_client)
    response = client.get("/admin/feeders/feeder/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def _feeder_form(feeder, **changes) -> dict:
    form = {
        "code": feeder.code,
        "substation": feeder.substation_id,
        "phases": feeder.phases,
        "rating_amps": feeder.rating_amps,
        "nominal_voltage": feeder.nominal_voltage,
        "at_risk_percent": feeder.at_risk_percent,
        "clear_percent": feeder.clear_percent,
        "high_risk": "on" if feeder.high_risk else "",
        "monitor_device_id": feeder.monitor_device_id,
        "_save": "Save",
    }
    form.update(changes)
    return form


def test_an_engineer_changes_a_threshold_in_the_admin_and_the_audit_trail_says_so(engineer, engineer_client):
    feeder = FeederFactory(at_risk_percent=90.0, clear_percent=80.0, automatic_curtailment=False)
    response = engineer_client.post(
        f"/admin/feeders/feeder/{feeder.pk}/change/",
        # automatic_curtailment is read-only here (its own audited control is on the
        # feeder's page): a posted value is ignored.
        _feeder_form(feeder, at_risk_percent="85", automatic_curtailment="on"),
    )
    assert response.status_code == 302, response.content[:2000]
    feeder.refresh_from_db()
    assert feeder.at_risk_percent == 85.0
    assert feeder.automatic_curtailment is False
    entry = AuditEntry.objects.get(action="admin.change")
    assert (entry.actor_user, entry.target_type, entry.target_id) == (engineer, "feeders.feeder", str(feeder.pk))
    assert entry.inputs == {"fields": {"at_risk_percent": {"before": 90.0, "after": 85.0}}}


def test_an_engineer_adds_an_asp_contract_in_the_admin_with_its_feeders_audited(engineer, engineer_client):
    feeders = [FeederFactory(), FeederFactory()]
    response = engineer_client.post(
        "/admin/curtailment/aspcontract/add/",
        {
            "provider": "Flex Ltd",
            "reference": "ASP-2026-01",
            "feeders": [f.pk for f in feeders],
            "starts_at_0": "2026-06-01",
            "starts_at_1": "00:00:00",
            "ends_at_0": "2026-09-01",
            "ends_at_1": "00:00:00",
            "available_kw": "150",
            "active": "on",
            "_save": "Save",
        },
    )
    assert response.status_code == 302, response.content[:2000]
    contract = AspContract.objects.get(reference="ASP-2026-01")
    assert set(contract.feeders.all()) == set(feeders)
    entry = AuditEntry.objects.get(action="admin.add")
    assert (entry.actor_user, entry.target_id) == (engineer, str(contract.pk))
    assert entry.inputs["fields"]["feeders"] == {"before": None, "after": sorted(f.pk for f in feeders)}
    assert entry.inputs["fields"]["available_kw"] == {"before": None, "after": 150.0}


def test_an_unchanged_save_in_the_admin_audits_nothing(engineer_client):
    feeder = FeederFactory()
    response = engineer_client.post(f"/admin/feeders/feeder/{feeder.pk}/change/", _feeder_form(feeder))
    assert response.status_code == 302
    assert not AuditEntry.objects.exists()


def test_an_engineer_may_only_look_at_consent_in_the_admin(engineer_client):
    consent = ConsentFactory()
    url = f"/admin/consent/consent/{consent.pk}/change/"
    assert engineer_client.get(url).status_code == 200  # the read-only view
    response = engineer_client.post(url, {"status": "withdrawn", "_save": "Save"})
    assert response.status_code == 403
    assert Consent.objects.get(pk=consent.pk).status == consent.status


def test_append_only_history_is_read_only_in_the_admin_even_for_a_superuser(admin_user, admin_client):
    request = RequestFactory().get("/admin/")
    request.user = admin_user
    append_only = {m: a for m, a in admin.site._registry.items() if issubclass(m, AppendOnlyModel)}
    assert {m.__name__ for m in append_only} >= {"AuditEntry", "ConsentChange", "ServiceRequestTransition"}
    for model, model_admin in append_only.items():
        assert model_admin.has_view_permission(request), model
        assert not model_admin.has_add_permission(request), model
        assert not model_admin.has_change_permission(request), model
        assert not model_admin.has_delete_permission(request), model
        meta = model._meta
        assert admin_client.get(f"/admin/{meta.app_label}/{meta.model_name}/add/").status_code == 403, model

    entry = audit_record(action="feeder.automatic_on", rule="test", reason="before")
    url = f"/admin/core/auditentry/{entry.pk}/"
    assert admin_client.post(f"{url}change/", {"reason": "after", "_save": "Save"}).status_code == 403
    assert admin_client.post(f"{url}delete/", {"post": "yes"}).status_code == 403
    assert AuditEntry.objects.get(pk=entry.pk).reason == "before"
