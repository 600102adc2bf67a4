"""What the engine asks of the ASP side (NF14): call off more kW for an event, and how many
kW the ASP delivers now.

The escalation (``curtailment.services.protection``) uses only these two functions. Until
the OpenADR call-off lands they keep today's bookkeeping (a call-off is recorded against the
contracts covering the feeder and its kW credited in full); the ASP module replaces the
bodies, crediting kW only as delivery is confirmed.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.db.models import F, Sum

from curtailment.choices import AspCallOffStatus
from curtailment.models import AspCallOff, AspContract, CurtailmentEvent


def asp_call_off(event: CurtailmentEvent, kw: float, at: dt.datetime) -> float:
    """Ask the active ASP contracts covering the event's feeder for up to ``kw`` more, in
    contract order; returns the kW asked for (0 when no contract has any left)."""
    asked = 0.0
    with transaction.atomic():
        contracts = AspContract.objects.filter(
            active=True, starts_at__lte=at, ends_at__gt=at, feeders=event.feeder_id
        ).order_by("reference")
        for contract in contracts.select_for_update():
            if asked >= kw:
                break
            in_use = contract.calloffs.filter(status=AspCallOffStatus.CALLED).aggregate(kw=Sum("kw"))["kw"] or 0.0
            more = min(contract.available_kw - in_use, kw - asked)
            if more <= 0:
                continue
            calloff, created = AspCallOff.objects.get_or_create(
                contract=contract, event=event, defaults={"kw": more, "called_at": at}
            )
            if not created:
                AspCallOff.objects.filter(pk=calloff.pk).update(
                    kw=F("kw") + more, status=AspCallOffStatus.CALLED, released_at=None
                )
            asked += more
        if asked:
            CurtailmentEvent.objects.filter(pk=event.pk).update(asp_calloff_kw=F("asp_calloff_kw") + asked)
            event.refresh_from_db(fields=["asp_calloff_kw"])
    return asked


def asp_relief_kw(event: CurtailmentEvent, at: dt.datetime) -> float:
    """kW the ASP delivers for the event at ``at`` (today: every kW called off and not
    released, as if delivered)."""
    called = AspCallOff.objects.filter(event_id=event.pk, status=AspCallOffStatus.CALLED, called_at__lte=at)
    return called.aggregate(kw=Sum("kw"))["kw"] or 0.0


def asp_kw_available(*, feeder_id: int, at: dt.datetime) -> float:
    """kW still uncalled on the active contracts covering the feeder (for the operator alarm)."""
    total = 0.0
    for contract in AspContract.objects.filter(active=True, starts_at__lte=at, ends_at__gt=at, feeders=feeder_id):
        in_use = contract.calloffs.filter(status=AspCallOffStatus.CALLED).aggregate(kw=Sum("kw"))["kw"] or 0.0
        total += max(0.0, contract.available_kw - in_use)
    return total
