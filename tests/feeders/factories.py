"""Factories for the feeders app."""

from decimal import Decimal

import factory

from feeders.choices import FeederStatus, LicenceArea
from feeders.models import Feeder, Substation


class SubstationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Substation
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"SS{n:04d}")
    name = factory.Sequence(lambda n: f"Substation {n}")
    latitude = Decimal("52.500000")
    longitude = Decimal("-1.900000")
    licence_area = LicenceArea.WEST_MIDLANDS


class FeederFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Feeder
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"FDR{n:05d}")
    substation = factory.SubFactory(SubstationFactory)
    phases = 3
    rating_amps = 400.0
    at_risk_percent = 90.0
    clear_percent = 80.0
    high_risk = True
    automatic_curtailment = True
    monitor_device_id = factory.Sequence(lambda n: f"MON-{n:05d}")
    status = FeederStatus.NORMAL
