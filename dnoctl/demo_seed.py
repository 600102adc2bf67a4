"""A synthetic DNO area for the demo. Deterministic (one seeded ``Random``) and idempotent:
written in one transaction tagged by its parameters, so a rerun writes nothing and a crash
leaves nothing."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from consent.choices import (
    CommsHubType,
    ConsentStatus,
    ControllerType,
    ElementType,
    LoadLabel,
    MpanRole,
    NotificationChannel,
    NotificationFrequency,
)
from consent.models import HCALCS, MPAN, Consent, ConsentChange, Customer, Meter, Premise, Tenancy
from consent.validators import mpan_check_digit
from curtailment.models import AspContract
from feeders.choices import FeederStatus, LicenceArea
from feeders.models import Feeder, Substation

BATCH = 2000
DEMO_PREFIX = "DEMO"

# Substation sites: a few real GB towns, so the schematic map looks like somewhere.
_SITES = [
    ("Birmingham", 52.4862, -1.8904, LicenceArea.WEST_MIDLANDS),
    ("Coventry", 52.4068, -1.5197, LicenceArea.WEST_MIDLANDS),
    ("Wolverhampton", 52.5862, -2.1288, LicenceArea.WEST_MIDLANDS),
    ("Nottingham", 52.9548, -1.1581, LicenceArea.EAST_MIDLANDS),
    ("Leicester", 52.6369, -1.1398, LicenceArea.EAST_MIDLANDS),
    ("Derby", 52.9225, -1.4746, LicenceArea.EAST_MIDLANDS),
    ("Bristol", 51.4545, -2.5879, LicenceArea.SOUTH_WEST),
    ("Exeter", 50.7184, -3.5339, LicenceArea.SOUTH_WEST),
    ("Cardiff", 51.4816, -3.1791, LicenceArea.SOUTH_WALES),
    ("Swansea", 51.6214, -3.9436, LicenceArea.SOUTH_WALES),
]
_STREETS = [
    "Acacia Avenue",
    "Mill Lane",
    "Station Road",
    "Church Street",
    "Park Road",
    "Victoria Road",
    "Green Lane",
    "Manor Road",
    "Kings Road",
    "Queens Road",
    "School Lane",
    "The Crescent",
]


@dataclass(frozen=True)
class DemoSize:
    substations: int = 20
    feeders: int = 200
    premises: int = 10_000
    ev_share: float = 0.25
    seed: int = 46

    @property
    def tag(self) -> str:
        return f"{DEMO_PREFIX}-{self.substations}-{self.feeders}-{self.premises}-{self.ev_share}-{self.seed}"


@dataclass
class SeedResult:
    created: bool
    counts: dict[str, int]


def _eui64(value: int) -> str:
    raw = f"{value:016X}"
    return "-".join(raw[i : i + 2] for i in range(0, 16, 2))


def _mpan(serial: int) -> str:
    first_twelve = f"23{serial:010d}"  # 23 = a distributor id; the serial makes it unique
    return first_twelve + str(mpan_check_digit(first_twelve))


def demo_counts() -> dict[str, int]:
    models = [Substation, Feeder, Premise, Meter, MPAN, HCALCS, Customer, Tenancy, Consent, ConsentChange, AspContract]
    return {model._meta.label: model.objects.count() for model in models}


def demo_seed(*, size: DemoSize) -> SeedResult:
    """Create the demo area unless this exact one exists already."""
    marker = f"{size.tag}-SS"
    if Substation.objects.filter(name__startswith=marker).exists():
        return SeedResult(created=False, counts=demo_counts())
    with transaction.atomic():
        _seed(size, random.Random(size.seed), marker)
    return SeedResult(created=True, counts=demo_counts())


def _seed(size: DemoSize, rng: random.Random, marker: str) -> None:
    now = timezone.now().replace(microsecond=0)
    substations = Substation.objects.bulk_create(
        [
            Substation(
                code=f"SS{i:03d}",
                name=f"{marker} {_SITES[i % len(_SITES)][0]} {i:03d}",
                latitude=Decimal(f"{_SITES[i % len(_SITES)][1] + rng.uniform(-0.08, 0.08):.6f}"),
                longitude=Decimal(f"{_SITES[i % len(_SITES)][2] + rng.uniform(-0.08, 0.08):.6f}"),
                licence_area=_SITES[i % len(_SITES)][3],
            )
            for i in range(size.substations)
        ]
    )
    feeders = Feeder.objects.bulk_create(
        [
            Feeder(
                code=f"{substations[i % len(substations)].code}-F{i:04d}",
                substation=substations[i % len(substations)],
                phases=3,
                rating_amps=rng.choice([250.0, 300.0, 315.0, 400.0]),
                at_risk_percent=90.0,
                clear_percent=80.0,
                high_risk=(high := rng.random() < 0.35),
                automatic_curtailment=high,
                monitor_device_id=f"LVM-{i:05d}",
                status=FeederStatus.OFFLINE,
            )
            for i in range(size.feeders)
        ],
        batch_size=BATCH,
    )
    premises = Premise.objects.bulk_create(
        [
            Premise(
                reference=f"PR{i:08d}",
                address=f"{rng.randint(1, 240)} {rng.choice(_STREETS)}",
                postcode=f"B{rng.randint(1, 99)} {rng.randint(1, 9)}{rng.choice('ABDEFGHJLNPQRSTUWXYZ')}"
                f"{rng.choice('ABDEFGHJLNPQRSTUWXYZ')}",
                domestic=rng.random() < 0.96,
                feeder=feeders[i % len(feeders)],
            )
            for i in range(size.premises)
        ],
        batch_size=BATCH,
    )
    meters = Meter.objects.bulk_create(
        [
            Meter(
                esme_eui64=_eui64(0x0011_0000_0000_0000 + i),
                premise=premise,
                element_type=ElementType.TWIN if rng.random() < 0.08 else ElementType.SINGLE,
                comms_hub_type=CommsHubType.DUAL_BAND if rng.random() < 0.4 else CommsHubType.SINGLE_BAND,
                firmware_version=(fw := rng.choice(["4.2.0", "4.2.0", "4.2.0", "4.1.3", "3.9.1"])),
                supports_eno_use_cases=fw == "4.2.0",
            )
            for i, premise in enumerate(premises)
        ],
        batch_size=BATCH,
    )
    serial = iter(range(1, 10_000_000))
    mpans = []
    for meter in meters:
        roles = [MpanRole.IMPORT_PRIMARY]
        if meter.element_type == ElementType.TWIN:
            # Seed 003: solar on the secondary element, with its own export register.
            roles += [MpanRole.IMPORT_SECONDARY, MpanRole.EXPORT_SECONDARY]
        elif rng.random() < 0.1:
            roles.append(MpanRole.EXPORT_PRIMARY)
        mpans += [MPAN(core=_mpan(next(serial)), meter=meter, role=role) for role in roles]
    MPAN.objects.bulk_create(mpans, batch_size=BATCH)

    ev_meters = [m for m in meters if rng.random() < size.ev_share]
    controllers = []
    for i, meter in enumerate(ev_meters):
        label = rng.choices([LoadLabel.EV_CHARGER, LoadLabel.UNLABELLED, LoadLabel.HEAT_PUMP], [90, 6, 4])[0]
        rated_kw = rng.choice([7.0, 7.0, 7.4, 3.6, 11.0])
        # Some smart chargers can be throttled (an APC, SRV 7.16): every third of the
        # bigger ones, decided without the generator so the rest of the seed is unchanged.
        apc = rated_kw >= 7.4 and i % 3 == 0
        controllers.append(
            HCALCS(
                eui64=_eui64(0x00DB_0000_0000_0000 + i),
                meter=meter,
                switch_index=1,
                label=label,
                rated_kw=rated_kw,
                controller_type=ControllerType.APC if apc else ControllerType.HCALCS,
            )
        )
    HCALCS.objects.bulk_create(controllers, batch_size=BATCH)
    ev_premise_ids = {m.premise_id for m in ev_meters}
    _seed_occupants(rng, premises, ev_premise_ids, now)
    _seed_asp_contracts(feeders, now)


def _seed_occupants(rng: random.Random, premises: list[Premise], ev_premise_ids: set[int], now: dt.datetime) -> None:
    customers, tenancy_specs = [], []
    for premise in premises:
        moved = rng.random() < 0.05
        start = now - dt.timedelta(days=rng.randint(400, 3000))
        if moved:
            change = now - dt.timedelta(days=rng.randint(5, 300))
            customers.append(Customer(name=f"Former occupant of {premise.reference}"))
            tenancy_specs.append((premise, start, change, "lapsed"))
            start = change
        customers.append(Customer(name=f"Occupant of {premise.reference}"))
        status = "pending" if moved else None
        tenancy_specs.append((premise, start, None, status))
    customers = Customer.objects.bulk_create(customers, batch_size=BATCH)
    for customer in customers:
        customer.email = f"customer{customer.pk}@example.org"
        customer.phone = f"07700 9{customer.pk % 100000:05d}"
    Customer.objects.bulk_update(customers, ["email", "phone"], batch_size=BATCH)
    tenancies = Tenancy.objects.bulk_create(
        [
            Tenancy(premise=premise, customer=customer, start=start, end=end)
            for (premise, start, end, _), customer in zip(tenancy_specs, customers, strict=True)
        ],
        batch_size=BATCH,
    )
    consents, histories = [], []
    for tenancy, (premise, _, _, forced) in zip(tenancies, tenancy_specs, strict=True):
        if forced:
            status = ConsentStatus(forced)
        elif premise.id in ev_premise_ids:
            status = rng.choices(
                [ConsentStatus.GRANTED, ConsentStatus.DECLINED, ConsentStatus.PENDING, ConsentStatus.WITHDRAWN],
                [72, 10, 13, 5],
            )[0]
        else:
            status = ConsentStatus.PENDING
        given = status in (ConsentStatus.GRANTED, ConsentStatus.WITHDRAWN, ConsentStatus.LAPSED)
        consents.append(
            Consent(
                tenancy=tenancy,
                status=status,
                override_allowed=rng.random() < 0.7,
                notification_channel=rng.choices(list(NotificationChannel), [70, 22, 8])[0],
                notification_frequency=rng.choices(list(NotificationFrequency), [60, 30, 10])[0],
                evidence_channel="web" if given else "",
                evidence_date=(tenancy.start + dt.timedelta(days=30)).date() if given else None,
                evidence_reference=f"DEMO-{tenancy.pk}" if given else "",
            )
        )
    consents = Consent.objects.bulk_create(consents, batch_size=BATCH)
    for consent, tenancy in zip(consents, tenancies, strict=True):
        histories.append(
            ConsentChange(
                consent=consent,
                at=tenancy.start,
                from_status="",
                to_status=consent.status,
                override_allowed=consent.override_allowed,
                actor="seed_demo",
                reason="synthetic demo history",
            )
        )
    ConsentChange.objects.bulk_create(histories, batch_size=BATCH)


def _seed_asp_contracts(feeders: list[Feeder], now: dt.datetime) -> None:
    """NF14: a flexibility provider covers the first two high-risk feeders."""
    covered = [f for f in feeders if f.high_risk][:2]
    if not covered:
        return
    contract = AspContract.objects.create(
        provider="Midlands Flex Ltd",
        reference=f"{DEMO_PREFIX}-ASP-001",
        starts_at=now - dt.timedelta(days=30),
        ends_at=now + dt.timedelta(days=335),
        available_kw=25.0,
    )
    contract.feeders.set(covered)
