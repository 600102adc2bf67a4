"""The consent API for the OpenAPI schema; ``consent.api`` parses bodies itself, so its errors
name fields as the screens do."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from ninja import Schema
from pydantic import ConfigDict, Field

from consent.choices import ConsentStatus, LoadLabel, MpanRole, NotificationChannel, NotificationFrequency

REASON = Field(min_length=1, description="Why: kept in the consent history and the audit trail")
# Empty or null leaves the default (or, for preferences, the current choice).
Channel = NotificationChannel | Literal[""] | None
Frequency = NotificationFrequency | Literal[""] | None


# --- bodies --------------------------------------------------------------------------------


class GrantIn(Schema):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "evidence_channel": "web",
                    "evidence_date": "2026-11-20",
                    "evidence_reference": "CRM-4471",
                    "override_allowed": True,
                    "reason": "consent form signed online",
                }
            ]
        }
    )

    evidence_channel: str = Field(min_length=1, description="How the customer consented, e.g. web, phone, letter")
    evidence_date: dt.date = Field(description="The day the customer consented: today or earlier (Europe/London)")
    evidence_reference: str | None = None
    override_allowed: bool | None = Field(None, description="May the customer override events with the boost button")
    reason: str = REASON


class DeclineIn(Schema):
    reason: str = REASON
    evidence_channel: str | None = None
    evidence_reference: str | None = None


class WithdrawIn(Schema):
    reason: str = REASON


class OverrideIn(Schema):
    override_allowed: bool
    reason: str = REASON


class PreferencesIn(Schema):
    notification_channel: Channel = Field(None, description="Empty or null: unchanged")
    notification_frequency: Frequency = Field(None, description="Empty or null: unchanged")
    reason: str = REASON


class NewCustomerIn(Schema):
    reference: str | None = Field(None, description="The customer system's own id")
    name: str = Field(min_length=1)
    email: str | None = None
    phone: str | None = None
    postal_address: str | None = None


class TenancyChangeIn(Schema):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "customer": {"reference": "CRM-991", "name": "Ada Newcomer", "email": "ada@example.org"},
                    "at": "2026-11-24T09:00:00Z",
                    "reason": "move-in notified by the supplier",
                }
            ]
        }
    )

    customer: NewCustomerIn
    at: dt.datetime | Literal[""] | None = Field(
        None, description="When the new tenancy starts (ISO 8601 with offset); empty or null: now"
    )
    reason: str = REASON
    notification_channel: Channel = Field(None, description="Empty or null: email")
    notification_frequency: Frequency = Field(None, description="Empty or null: each_event")


class HalfHourIn(Schema):
    mpan: str = Field(description="MPAN core (13 digits)")
    period_start: dt.datetime = Field(description="Start of the half hour (:00 or :30), ISO 8601 with offset")
    kwh: float = Field(ge=0, description="kWh in the half hour")


class HalfHoursIn(Schema):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"readings": [{"mpan": "1400000000010", "period_start": "2026-11-20T18:00:00Z", "kwh": 3.2}]}]
        }
    )

    readings: list[HalfHourIn]


# --- replies -------------------------------------------------------------------------------


class MpanOut(Schema):
    core: str
    role: MpanRole


class HcalcsOut(Schema):
    eui64: str
    index: int = Field(description="Switch index on the ESME (1-5)")
    label: LoadLabel
    on_boost_button: bool


class MeterOut(Schema):
    esme_eui64: str
    mpans: list[MpanOut]
    hcalcs: list[HcalcsOut]


class EvidenceOut(Schema):
    channel: str
    date: dt.date | None
    reference: str


class TenancyOut(Schema):
    id: int
    start: dt.datetime


class CustomerMasked(Schema):
    """Without ``consent.view_personal_data``: a masked reference only."""

    model_config = ConfigDict(extra="forbid")

    reference: str


class CustomerPersonal(Schema):
    """With ``consent.view_personal_data``: the customer's contact details."""

    model_config = ConfigDict(extra="forbid")

    reference: str | None
    name: str
    email: str
    phone: str
    postal_address: str


class ConsentOut(Schema):
    id: int
    status: ConsentStatus
    override_allowed: bool
    notification_channel: NotificationChannel
    notification_frequency: NotificationFrequency
    evidence: EvidenceOut
    tenancy: TenancyOut
    customer: CustomerMasked | CustomerPersonal


class PremiseOut(Schema):
    reference: str
    postcode: str
    domestic: bool
    feeder: str | None = Field(description="The LV feeder's code")
    meters: list[MeterOut]
    consent: ConsentOut | None = Field(description="The current tenancy's consent; null without a tenancy")


class AwaitingItem(Schema):
    premise: str
    consent_id: int
    since: dt.datetime


class AwaitingOut(Schema):
    awaiting: list[AwaitingItem] = Field(description="Oldest first, at most 1,000")


class FeedApplied(Schema):
    ok: bool
    changes: int


class HalfHourError(Schema):
    index: int
    field: str
    reason: str


class HalfHoursResult(Schema):
    ok: bool
    received: int
    created: int
    updated: int
    unchanged: int
    errors: list[HalfHourError] = Field(description="The first 1,000 errors")
    error_count: int


class ImportProgress(Schema):
    phase: str = Field(description="validating, writing, done or failed")
    percent: int
    report: dict[str, Any] | None = Field(description="The import's report once done or failed")
    source: str


# --- errors --------------------------------------------------------------------------------


class FieldErrors(Schema):
    """Bad input: nothing was changed."""

    error: str
    fields: dict[str, list[str]] = Field(description="Field name (or __all__) -> reasons")


class FeedRowError(Schema):
    row: int = Field(description="Line of the CSV feed (the header is line 1)")
    column: str
    reason: str


class FeedErrors(Schema):
    """A bad tenancy feed: nothing was changed."""

    error: str
    errors: list[FeedRowError]
