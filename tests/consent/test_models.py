"""Model validation: bad identifiers and overlapping tenancies are refused with a message
naming the problem, by ``full_clean()`` and, where it can, by the database."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from consent.models import HCALCS, MPAN, Tenancy
from consent.validators import eui64_normalise, mpan_check_digit, validate_mpan_core
from tests.consent.factories import (
    CustomerFactory,
    HcalcsFactory,
    MeterFactory,
    PremiseFactory,
    TenancyFactory,
    mpan_from_int,
)

pytestmark = pytest.mark.django_db


def _bad_check_digit(core: str) -> str:
    return core[:12] + str((int(core[12]) + 1) % 10)


def test_mpan_with_wrong_check_digit_is_rejected_naming_it():
    meter = MeterFactory()
    mpan = MPAN(core=_bad_check_digit(mpan_from_int(42)), meter=meter)
    with pytest.raises(ValidationError) as caught:
        mpan.full_clean()
    assert "core" in caught.value.message_dict
    assert "check digit" in caught.value.message_dict["core"][0]


def test_mpan_check_digit_matches_a_published_example():
    # 1200023305967 is a widely published valid MPAN core (check digit 7).
    assert mpan_check_digit("120002330596") == 7
    validate_mpan_core("1200023305967")


def test_mpan_that_is_not_13_digits_is_refused_by_the_database():
    meter = MeterFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        MPAN.objects.create(core="12345", meter=meter)


def test_bad_eui64_is_rejected_naming_the_field():
    meter = MeterFactory()
    hcalcs = HCALCS(eui64="00-DB-12-34", meter=meter, switch_index=1)
    with pytest.raises(ValidationError) as caught:
        hcalcs.full_clean()
    assert "eui64" in caught.value.message_dict
    assert "EUI-64" in caught.value.message_dict["eui64"][0]


def test_bad_eui64_is_refused_by_the_database_too():
    meter = MeterFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        HCALCS.objects.create(eui64="not-an-eui", meter=meter, switch_index=1)


def test_eui64_forms_normalise_to_the_canonical_one():
    assert eui64_normalise("00db1234567890a0") == "00-DB-12-34-56-78-90-A0"
    assert eui64_normalise("00:db:12:34:56:78:90:a0") == "00-DB-12-34-56-78-90-A0"


@pytest.mark.parametrize("index", [0, 6])
def test_switch_index_out_of_range_is_rejected(index):
    hcalcs = HcalcsFactory.build(meter=MeterFactory(), switch_index=index)
    with pytest.raises(ValidationError) as caught:
        hcalcs.full_clean()
    assert "switch_index" in caught.value.message_dict
    with pytest.raises(IntegrityError), transaction.atomic():
        hcalcs.save()


def test_an_unknown_controller_type_is_rejected_naming_it():
    controller = HcalcsFactory.build(meter=MeterFactory(), controller_type="dimmer")
    with pytest.raises(ValidationError) as caught:
        controller.full_clean()
    assert "controller_type" in caught.value.message_dict
    with pytest.raises(IntegrityError), transaction.atomic():
        controller.save()


def test_an_apc_shares_the_meters_five_indexes_with_its_hcalcs():
    meter = MeterFactory()
    HcalcsFactory(meter=meter, switch_index=2)
    apc = HcalcsFactory.build(meter=meter, switch_index=2, controller_type="apc")
    with pytest.raises(IntegrityError), transaction.atomic():
        apc.save()
    apc.switch_index = 3
    apc.save()
    assert [c.is_apc for c in meter.hcalcs.order_by("switch_index")] == [False, True]


def test_overlapping_tenancies_are_rejected():
    premise = PremiseFactory()
    now = timezone.now()
    TenancyFactory(premise=premise, start=now - dt.timedelta(days=100), end=now - dt.timedelta(days=10))
    overlapping = Tenancy(
        premise=premise, customer=CustomerFactory(), start=now - dt.timedelta(days=50), end=now - dt.timedelta(days=5)
    )
    with pytest.raises(ValidationError) as caught:
        overlapping.full_clean()
    assert "overlaps" in caught.value.message_dict["start"][0]


def test_second_open_tenancy_is_rejected_by_clean_and_database():
    premise = PremiseFactory()
    TenancyFactory(premise=premise, start=timezone.now() - dt.timedelta(days=30))
    second = Tenancy(premise=premise, customer=CustomerFactory(), start=timezone.now())
    with pytest.raises(ValidationError) as caught:
        second.full_clean()
    assert "open tenancy" in caught.value.message_dict["end"][0]
    with pytest.raises(IntegrityError), transaction.atomic():
        second.save()


def test_overlapping_closed_tenancies_are_refused_by_postgresql(django_db_blocker):
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.fail("the suite runs against PostgreSQL (make test)")
    premise = PremiseFactory()
    now = timezone.now()
    TenancyFactory(premise=premise, start=now - dt.timedelta(days=100), end=now - dt.timedelta(days=10))
    with pytest.raises(IntegrityError), transaction.atomic():
        Tenancy.objects.create(
            premise=premise,
            customer=CustomerFactory(),
            start=now - dt.timedelta(days=50),
            end=now - dt.timedelta(days=1),
        )


def test_back_to_back_tenancies_are_allowed():
    premise = PremiseFactory()
    boundary = timezone.now() - dt.timedelta(days=10)
    TenancyFactory(premise=premise, start=boundary - dt.timedelta(days=100), end=boundary)
    following = Tenancy(premise=premise, customer=CustomerFactory(), start=boundary)
    following.full_clean()
    following.save()
    assert premise.tenancies.count() == 2
