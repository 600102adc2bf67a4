"""``seed_demo``: deterministic, idempotent, valid."""

import io

import pytest
from django.core.management import call_command
from django.db import transaction

from consent.choices import ConsentStatus, ElementType, LoadLabel, MpanRole
from consent.models import HCALCS, MPAN, Consent, Meter
from consent.validators import validate_mpan_core
from dnoctl.demo_seed import DemoSize, demo_counts, demo_seed

pytestmark = pytest.mark.django_db

SMALL = {"substations": 4, "feeders": 20, "premises": 800}


def test_seed_demo_twice_gives_the_same_counts():
    call_command("seed_demo", **SMALL, stdout=io.StringIO())
    first = demo_counts()
    out = io.StringIO()
    call_command("seed_demo", **SMALL, stdout=out)
    assert demo_counts() == first
    assert "nothing written" in out.getvalue()
    assert first["consent.Premise"] == 800
    assert first["feeders.Feeder"] == 20


def test_seeded_mpans_all_validate_and_twin_meters_carry_secondary_registers():
    demo_seed(size=DemoSize(**SMALL))
    for core in MPAN.objects.values_list("core", flat=True):
        validate_mpan_core(core)
    twin = Meter.objects.filter(element_type=ElementType.TWIN).first()
    assert twin is not None
    roles = set(twin.mpans.values_list("role", flat=True))
    assert {MpanRole.IMPORT_SECONDARY, MpanRole.EXPORT_SECONDARY} <= roles


class _Rollback(Exception):
    pass


def _snapshot_of_seed(size: DemoSize) -> list[tuple]:
    """Seed inside a transaction, read what was made, and roll it all back."""
    snapshot: list[tuple] = []
    try:
        with transaction.atomic():
            demo_seed(size=size)
            snapshot = list(
                HCALCS.objects.order_by("eui64").values_list("eui64", "meter__esme_eui64", "label", "rated_kw")
            ) + list(
                Consent.objects.order_by("tenancy__premise__reference", "tenancy__start").values_list(
                    "tenancy__premise__reference", "status", "override_allowed"
                )
            )
            raise _Rollback
    except _Rollback:
        pass
    return snapshot


def test_seed_is_deterministic_for_a_seed():
    first = _snapshot_of_seed(DemoSize(**SMALL))
    again = _snapshot_of_seed(DemoSize(**SMALL))
    other = _snapshot_of_seed(DemoSize(**SMALL, seed=7))
    assert first, "the seeded area has chargers"
    assert first == again
    assert first != other


def test_seed_has_a_realistic_mix_of_consent_states_and_labels():
    demo_seed(size=DemoSize(**SMALL))
    states = set(Consent.objects.values_list("status", flat=True))
    assert {ConsentStatus.GRANTED, ConsentStatus.DECLINED, ConsentStatus.PENDING, ConsentStatus.LAPSED} <= states
    # Lapsed consents belong to ended tenancies (change of tenancy); their premises have a
    # new, current tenancy.
    lapsed = Consent.objects.filter(status=ConsentStatus.LAPSED).select_related("tenancy")
    assert all(c.tenancy.end is not None for c in lapsed)
    assert (
        HCALCS.objects.filter(label=LoadLabel.EV_CHARGER).count()
        > HCALCS.objects.exclude(label=LoadLabel.EV_CHARGER).count()
    )
