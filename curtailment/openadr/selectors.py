"""What a provider's VEN may read through the OpenADR API: only its own contracts' rows."""

from __future__ import annotations

from django.db.models import QuerySet

from curtailment.choices import AspCallOffStatus
from curtailment.models import AspCallOff, AspContract, AspReport, AspVen

# The targets a call-off carries; a filter on any other target type matches none.
TARGET_TYPES = ("POWER_SERVICE_LOCATION", "VEN_NAME")


def ven_programmes(ven: AspVen, *, skip: int, limit: int) -> list[AspContract]:
    """The VEN's active contracts, one page, oldest first."""
    return list(_contracts(ven).filter(active=True)[skip : skip + limit])


def ven_programme(ven: AspVen, contract_pk: int | None) -> AspContract | None:
    return _contracts(ven).filter(pk=contract_pk).first() if contract_pk is not None else None


def ven_calloffs_live(
    ven: AspVen,
    *,
    contract_pk: int | None,
    program_given: bool,
    target_type: str | None,
    target_values: list[str],
    skip: int,
    limit: int,
) -> list[AspCallOff]:
    """One page of the VEN's call-offs not yet released, filtered as OpenADR's GET events is."""
    calloffs = _calloffs(ven).filter(status=AspCallOffStatus.CALLED)
    if program_given:
        calloffs = calloffs.filter(contract_id=contract_pk) if contract_pk is not None else calloffs.none()
    if target_type == "POWER_SERVICE_LOCATION":
        calloffs = calloffs.filter(event__feeder__code__in=target_values)
    elif (target_type == "VEN_NAME" and ven.ven_name not in target_values) or (
        target_type is not None and target_type not in TARGET_TYPES
    ):
        calloffs = calloffs.none()
    return list(calloffs[skip : skip + limit])


def ven_calloff(ven: AspVen, calloff_pk: int | None) -> AspCallOff | None:
    """One of the VEN's call-offs, live or released."""
    return _calloffs(ven).filter(pk=calloff_pk).first() if calloff_pk is not None else None


def ven_reports(
    ven: AspVen,
    *,
    calloff_pk: int | None,
    event_given: bool,
    contract_pk: int | None,
    program_given: bool,
    client_name: str | None,
    skip: int,
    limit: int,
) -> list[AspReport]:
    """One page of the VEN's own reports, filtered as OpenADR's GET reports is."""
    rows = _reports(ven)
    if event_given:
        rows = rows.filter(calloff_id=calloff_pk) if calloff_pk is not None else rows.none()
    if program_given:
        rows = rows.filter(calloff__contract_id=contract_pk) if contract_pk is not None else rows.none()
    if client_name is not None and client_name != ven.ven_name:
        rows = rows.none()
    return list(rows[skip : skip + limit])


def ven_report(ven: AspVen, report_pk: int | None) -> AspReport | None:
    return _reports(ven).filter(pk=report_pk).first() if report_pk is not None else None


def _contracts(ven: AspVen) -> QuerySet[AspContract]:
    return AspContract.objects.filter(ven=ven).select_related("ven").order_by("pk")


def _calloffs(ven: AspVen) -> QuerySet[AspCallOff]:
    return AspCallOff.objects.filter(contract__ven=ven).select_related("contract__ven", "event__feeder").order_by("pk")


def _reports(ven: AspVen) -> QuerySet[AspReport]:
    return AspReport.objects.filter(ven=ven).order_by("pk")
