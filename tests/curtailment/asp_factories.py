"""ASP contracts with a provider's VEN, and OpenADR 3 reports as a VEN sends them."""

from __future__ import annotations

import datetime as dt
import itertools

from django.utils import timezone

from curtailment.models import AspContract, AspVen
from curtailment.services.asp import asp_ven_register

_numbers = itertools.count(1)


def asp_ven(*, name: str | None = None) -> tuple[AspVen, str]:
    """A provider's VEN and its client secret."""
    number = next(_numbers)
    return asp_ven_register(ven_name=name or f"aggregator-{number}", provider=f"Flex {number} Ltd")


def asp_contract(
    *, feeders, available_kw: float, ven: AspVen | None = None, reference: str | None = None
) -> AspContract:
    """An active contract covering ``feeders`` from yesterday to tomorrow."""
    now = timezone.now()
    contract = AspContract.objects.create(
        provider=ven.provider if ven else "Flex Ltd",
        reference=reference or f"ASP-{next(_numbers)}",
        starts_at=now - dt.timedelta(days=1),
        ends_at=now + dt.timedelta(days=1),
        available_kw=available_kw,
        ven=ven,
    )
    contract.feeders.add(*feeders)
    return contract


def delivery_report(calloff, *, kw: float, client_name: str | None = None, interval: int = 0) -> dict:
    """A report of ``kw`` less load (DELTA_USAGE in KW, negative = less), as a VEN posts it."""
    return {
        "objectType": "REPORT",
        "programID": f"contract-{calloff.contract_id}",
        "eventID": f"calloff-{calloff.pk}",
        "clientName": client_name or calloff.contract.ven.ven_name,
        "reportName": "delivery",
        "payloadDescriptors": [
            {"objectType": "REPORT_PAYLOAD_DESCRIPTOR", "payloadType": "DELTA_USAGE", "units": "KW"}
        ],
        "resources": [
            {
                "resourceName": "AGGREGATED_REPORT",
                "intervals": [{"id": interval, "payloads": [{"type": "DELTA_USAGE", "values": [-kw]}]}],
            }
        ],
    }
