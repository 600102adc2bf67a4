"""Hooks through which other apps act on consent changes and add to its pages, so the consent
app never imports them.

``consent_ended`` handlers run inside the transaction that ends the consent, each in a
savepoint: a failing handler is logged and rolled back alone, the consent change stands, and the
engine's minute sweep releases the charger instead."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from django.db import transaction

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ConsentEnded:
    """A consent ended: no charger of the premise may stay curtailed."""

    premise_id: int
    consent_id: int
    customer_id: int
    hcalcs_ids: tuple[int, ...]
    why: str  # "consent withdrawn" or "change of tenancy"
    actor: str  # the user name, or "rule:<name>"
    at: dt.datetime


ConsentEndedHandler = Callable[[ConsentEnded], None]
_consent_ended_handlers: list[ConsentEndedHandler] = []


def consent_ended_handlers_install(*, handlers: Sequence[ConsentEndedHandler]) -> None:
    _consent_ended_handlers[:] = list(handlers)


@contextlib.contextmanager
def consent_ended_handlers_replaced(*, handlers: Sequence[ConsentEndedHandler]) -> Iterator[None]:
    saved = list(_consent_ended_handlers)
    _consent_ended_handlers[:] = list(handlers)
    try:
        yield
    finally:
        _consent_ended_handlers[:] = saved


def consent_ended_announce(ended: ConsentEnded) -> None:
    """Run every installed handler inside the caller's transaction."""
    for handler in list(_consent_ended_handlers):
        try:
            with transaction.atomic():
                handler(ended)
        except Exception:
            logger.exception("consent %s ended: handler %r failed", ended.consent_id, handler)


# --- the premise page ---------------------------------------------------------------------
#
# ``premise_curtailment``: what the engine did at a premise, for its page (minutes each
# charger was curtailed, its curtailment actions). The engine installs the provider in
# ``CurtailmentConfig.ready()``; without it the page shows no curtailment.


@dataclass(frozen=True)
class PremiseCurtailment:
    used_24h: dict[int, int]
    used_30d: dict[int, int]
    actions: Sequence


PremiseCurtailmentProvider = Callable[..., PremiseCurtailment]


def _no_curtailment(*, premise_id: int, hcalcs_ids: Sequence[int], now: dt.datetime) -> PremiseCurtailment:
    return PremiseCurtailment(used_24h=dict.fromkeys(hcalcs_ids, 0), used_30d=dict.fromkeys(hcalcs_ids, 0), actions=[])


_premise_curtailment: list[PremiseCurtailmentProvider] = [_no_curtailment]


def premise_curtailment_install(*, provider: PremiseCurtailmentProvider) -> None:
    _premise_curtailment[:] = [provider]


def premise_curtailment(*, premise_id: int, hcalcs_ids: Sequence[int], now: dt.datetime) -> PremiseCurtailment:
    return _premise_curtailment[0](premise_id=premise_id, hcalcs_ids=list(hcalcs_ids), now=now)
