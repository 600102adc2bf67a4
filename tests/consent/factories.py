"""Factories for the consent app: a premise with an eligible EV charger by default."""

import datetime as dt

import factory
from django.utils import timezone

from consent.choices import ConsentStatus, LoadLabel, MpanRole
from consent.models import HCALCS, MPAN, Consent, Customer, Meter, Premise, Tenancy
from consent.validators import mpan_check_digit
from tests.feeders.factories import FeederFactory


def eui64_from_int(n: int, prefix: int = 0x00DB) -> str:
    """A canonical EUI-64 unique per ``n`` (the first two bytes set the device family)."""
    value = (prefix << 48) | n
    raw = f"{value:016X}"
    return "-".join(raw[i : i + 2] for i in range(0, 16, 2))


def mpan_from_int(n: int) -> str:
    """A valid 13-digit MPAN core unique per ``n`` (distributor id 14 + serial + check)."""
    first_twelve = f"14{n:010d}"
    return first_twelve + str(mpan_check_digit(first_twelve))


class PremiseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Premise

    reference = factory.Sequence(lambda n: f"PR{n:08d}")
    address = factory.Sequence(lambda n: f"{n} Acacia Avenue, Birmingham")
    postcode = "B15 2TT"
    domestic = True
    feeder = factory.SubFactory(FeederFactory)


class MeterFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Meter

    esme_eui64 = factory.Sequence(lambda n: eui64_from_int(n, prefix=0x0011))
    premise = factory.SubFactory(PremiseFactory)
    firmware_version = "4.2.0"
    supports_eno_use_cases = True


class MpanFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MPAN

    core = factory.Sequence(mpan_from_int)
    meter = factory.SubFactory(MeterFactory)
    role = MpanRole.IMPORT_PRIMARY


class HcalcsFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = HCALCS

    eui64 = factory.Sequence(lambda n: eui64_from_int(n, prefix=0x00DB))
    meter = factory.SubFactory(MeterFactory)
    switch_index = 1
    label = LoadLabel.EV_CHARGER
    rated_kw = 7.0


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    name = factory.Sequence(lambda n: f"Customer {n}")
    email = factory.Sequence(lambda n: f"customer{n}@example.org")


class TenancyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tenancy

    premise = factory.SubFactory(PremiseFactory)
    customer = factory.SubFactory(CustomerFactory)
    start = factory.LazyFunction(lambda: timezone.now() - dt.timedelta(days=365))
    end = None


class ConsentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Consent

    tenancy = factory.SubFactory(TenancyFactory)
    status = ConsentStatus.GRANTED
    override_allowed = True
    evidence_channel = "web"
    evidence_date = factory.LazyFunction(lambda: timezone.now().date())
    evidence_reference = factory.Sequence(lambda n: f"EV{n:06d}")


def eligible_charger(*, feeder=None, **hcalcs_kwargs) -> HCALCS:
    """A domestic premise on ``feeder`` with an MPAN, a current tenancy with granted consent
    and an EV-labelled HCALCS on ENO-capable firmware: passes invariant 1."""
    premise = PremiseFactory(feeder=feeder) if feeder is not None else PremiseFactory()
    meter = MeterFactory(premise=premise)
    MpanFactory(meter=meter)
    ConsentFactory(tenancy=TenancyFactory(premise=premise))
    return HcalcsFactory(meter=meter, **hcalcs_kwargs)
