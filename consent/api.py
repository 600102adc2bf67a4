"""JSON API for the DNO's customer systems (``/api/v1/consent/``, ``docs/consent-api.md``).

A bearer token acts as a service-account user, so every endpoint checks the same permissions as
the screens. Only token requests are exempt from CSRF: a browser never sends a bearer token on
its own, so it cannot be forged cross-site; session requests that change something need the
token."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.utils.dateparse import parse_date
from ninja import Router
from ninja.security import HttpBearer

from consent import profiles, schemas, selectors, services
from consent.choices import NotificationChannel, NotificationFrequency
from consent.importer import import_progress_get
from consent.models import Consent, Premise
from consent.tenancy_feed import COLUMNS as FEED_COLUMNS
from consent.tenancy_feed import tenancy_feed_apply
from core.roles import IMPORT_PREMISES, MANAGE_CONSENT, VIEW_PERSONAL_DATA
from core.times import datetime_with_offset
from dnoctl.api_base import (
    UNSTORABLE,
    ApiError,
    ApiRefusal,
    SessionAuth,
    documented_body,
    error_reply,
    json_parse,
    request_body,
    unstorable_text,
)

MAX_BODY_BYTES = 20 * 1024 * 1024


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def api_token_user(token: str):
    if not token:
        return None
    found = selectors.api_token_live(token_sha256=token_hash(token))
    return found.user if found is not None and found.user.is_active else None


class ConsentApiToken(HttpBearer):
    """The request acts as the token's service-account user; without the header, the session is tried."""

    openapi_description = "A customer-system token from manage.py consent_api_token (acts as its service account)."

    def __call__(self, request: HttpRequest) -> Any:
        # Not ninja's own: with DEBUG on, it logs any other Authorization header in full.
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        return self.authenticate(request, token) if scheme.lower() == "bearer" else None

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        user = api_token_user(token.strip())
        if user is None:
            raise ApiRefusal(error_reply(401, "invalid or revoked API token"))
        request.user = user  # services and permission checks name the service account
        return user


router = Router(
    auth=[ConsentApiToken(), SessionAuth(refusal="authentication required (Authorization: Bearer <token>)")],
    tags=["consent"],
)
# Any endpoint: no or bad credentials; a missing permission or CSRF token.
REFUSALS = {401: ApiError, 403: ApiError}
# Any endpoint taking a body: more than MAX_BODY_BYTES.
TOO_LARGE = {413: ApiError}
# Every change of one premise's consent or tenancy.
CHANGE_REPLIES = {
    200: schemas.PremiseOut,
    400: schemas.FieldErrors,
    404: ApiError,
    409: ApiError,
    **TOO_LARGE,
    **REFUSALS,
}


def _guarded(*, permission: str | None = None) -> Callable:
    """Check the permission; answer bad input with 400 and a consent in the wrong state with 409."""

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs):
            if permission and not request.user.has_perm(permission):
                return error_reply(403, f"permission {permission} required")
            try:
                return view(request, *args, **kwargs)
            except ValidationError as exc:
                return error_reply(400, "invalid input; nothing was changed", fields=_fields(exc))
            except services.ConsentConflict as exc:
                return error_reply(409, str(exc))

        return wrapper

    return decorate


def _fields(exc: ValidationError) -> dict[str, list[str]]:
    return exc.message_dict if hasattr(exc, "error_dict") else {"__all__": exc.messages}


def _body(request: HttpRequest) -> bytes:
    """Larger than Django's form limit (a month of half-hours is large); over it, a 413."""
    body = request_body(request, limit=MAX_BODY_BYTES)
    if body is None:
        raise ApiRefusal(error_reply(413, f"request body larger than {MAX_BODY_BYTES} bytes: split it"))
    return body


def _json_body(request: HttpRequest) -> dict:
    try:
        body = json_parse(_body(request) or b"{}")
    except ValueError as exc:
        raise ValidationError(f"the body is not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise ValidationError("the body must be a JSON object")
    where = unstorable_text(body)
    if where is not None:
        raise ValidationError({where: UNSTORABLE})
    return body


def _required(body: dict, name: str) -> Any:
    value = body.get(name)
    if value in (None, ""):
        raise ValidationError({name: "required"})
    return value


def _text(body: dict, name: str, *, required: bool = True, label: str = "") -> str:
    value = body.get(name)
    if value is None or value == "":
        if required:
            raise ValidationError({label or name: "required"})
        return ""
    if not isinstance(value, str):
        raise ValidationError({label or name: f"must be a string, not {type(value).__name__}"})
    return value


def _bool(body: dict, name: str) -> bool | None:
    value = body.get(name)
    if value is None or isinstance(value, bool):
        return value
    raise ValidationError({name: "must be true or false"})


def _date(body: dict, name: str) -> dt.date:
    raw = _required(body, name)
    try:
        # parse_date raises ValueError for a well-formed impossible date (2026-13-01)
        parsed = parse_date(raw) if isinstance(raw, str) else None
    except ValueError as exc:
        raise ValidationError({name: f"not a date: {raw!r} ({exc})"}) from None
    if parsed is None:
        raise ValidationError({name: f"not a date (YYYY-MM-DD): {raw!r}"})
    return parsed


def _datetime(body: dict, name: str, default: dt.datetime | None = None) -> dt.datetime:
    raw = body.get(name)
    if raw in (None, "") and default is not None:
        return default
    try:
        return datetime_with_offset(raw)
    except ValueError as exc:
        raise ValidationError({name: str(exc)}) from None


def _choice(body: dict, name: str, choices, default: str) -> str:
    value = body.get(name)
    if value is None or value == "":
        return default
    if not isinstance(value, str) or value not in choices.values:
        raise ValidationError({name: f"one of {', '.join(choices.values)}"})
    return value


# --- representation -----------------------------------------------------------------------


def consent_json(consent: Consent | None, *, personal: bool) -> dict | None:
    if consent is None:
        return None
    customer = consent.tenancy.customer
    data = {
        "id": consent.pk,
        "status": consent.status,
        "override_allowed": consent.override_allowed,
        "notification_channel": consent.notification_channel,
        "notification_frequency": consent.notification_frequency,
        "evidence": {
            "channel": consent.evidence_channel,
            "date": consent.evidence_date.isoformat() if consent.evidence_date else None,
            "reference": consent.evidence_reference,
        },
        "tenancy": {"id": consent.tenancy_id, "start": consent.tenancy.start.isoformat()},
        "customer": {"reference": selectors.customer_masked_reference(customer)},
    }
    if personal:
        data["customer"] = {
            "reference": customer.external_ref,
            "name": customer.name,
            "email": customer.email,
            "phone": customer.phone,
            "postal_address": customer.postal_address,
        }
    return data


def premise_json(premise: Premise, *, personal: bool) -> dict:
    return {
        "reference": premise.reference,
        "postcode": premise.postcode,
        "domestic": premise.domestic,
        "feeder": premise.feeder.code if premise.feeder else None,
        "meters": [
            {
                "esme_eui64": meter.esme_eui64,
                "mpans": [{"core": m.core, "role": m.role} for m in meter.mpans.all()],
                "hcalcs": [
                    {"eui64": h.eui64, "index": h.switch_index, "label": h.label, "on_boost_button": h.on_boost_button}
                    for h in meter.hcalcs.all()
                ],
            }
            for meter in premise.meters.all()
        ],
        "consent": consent_json(selectors.premise_current_consent(premise=premise), personal=personal),
    }


def _premise(reference: str) -> Premise:
    # No reference holds text the database cannot store (so it cannot even be looked up).
    premise = selectors.premise_with_devices(reference=reference) if unstorable_text(reference) is None else None
    if premise is None:
        raise ApiRefusal(error_reply(404, f"no premise with reference {reference!r}"))
    return premise


def _current_consent(premise: Premise) -> Consent:
    consent = selectors.premise_current_consent(premise=premise)
    if consent is None:
        raise services.ConsentConflict(f"premise {premise.reference} has no current tenancy")
    return consent


def _premise_reply(request: HttpRequest, premise: Premise, status: int = 200) -> JsonResponse:
    return JsonResponse(premise_json(premise, personal=request.user.has_perm(VIEW_PERSONAL_DATA)), status=status)


# --- endpoints -----------------------------------------------------------------------------


@router.get(
    "/premises/{reference}/",
    operation_id="premise_get",
    summary="A premise, its devices and its current consent",
    response={200: schemas.PremiseOut, 404: ApiError, **REFUSALS},
)
@_guarded()
def premise_detail(request: HttpRequest, reference: str) -> JsonResponse:
    """The premise, its devices and its current consent."""
    return _premise_reply(request, _premise(reference))


@router.get(
    "/awaiting-consent/",
    operation_id="consent_awaiting",
    summary="New occupants awaiting consent",
    response={200: schemas.AwaitingOut, **REFUSALS},
)
@_guarded()
def awaiting_consent(request: HttpRequest) -> JsonResponse:
    """New occupants awaiting consent, oldest first (premise references only)."""
    queue = selectors.consent_awaiting_queue()[:1000]
    return JsonResponse(
        {
            "awaiting": [
                {"premise": c.tenancy.premise.reference, "consent_id": c.pk, "since": c.tenancy.start.isoformat()}
                for c in queue
            ]
        }
    )


@router.post(
    "/premises/{reference}/consent/grant/",
    operation_id="consent_grant",
    summary="Record the customer's consent (pending, declined or withdrawn -> granted)",
    response=CHANGE_REPLIES,
    openapi_extra=documented_body(schemas.GrantIn, description="The consent and its evidence."),
)
@_guarded(permission=MANAGE_CONSENT)
def consent_grant(request: HttpRequest, reference: str) -> JsonResponse:
    body = _json_body(request)
    premise = _premise(reference)
    services.consent_grant(
        consent=_current_consent(premise),
        evidence_channel=_text(body, "evidence_channel"),
        evidence_date=_date(body, "evidence_date"),
        evidence_reference=_text(body, "evidence_reference", required=False),
        override_allowed=_bool(body, "override_allowed"),
        granted_by=request.user,
        reason=_text(body, "reason"),
    )
    return _premise_reply(request, premise)


@router.post(
    "/premises/{reference}/consent/decline/",
    operation_id="consent_decline",
    summary="Record that the customer declined (pending -> declined)",
    response=CHANGE_REPLIES,
    openapi_extra=documented_body(schemas.DeclineIn, description="Why, and the evidence."),
)
@_guarded(permission=MANAGE_CONSENT)
def consent_decline(request: HttpRequest, reference: str) -> JsonResponse:
    body = _json_body(request)
    premise = _premise(reference)
    services.consent_decline(
        consent=_current_consent(premise),
        declined_by=request.user,
        reason=_text(body, "reason"),
        evidence_channel=_text(body, "evidence_channel", required=False),
        evidence_reference=_text(body, "evidence_reference", required=False),
    )
    return _premise_reply(request, premise)


@router.post(
    "/premises/{reference}/consent/withdraw/",
    operation_id="consent_withdraw",
    summary="Record that the customer withdrew consent (granted -> withdrawn)",
    response=CHANGE_REPLIES,
    openapi_extra=documented_body(schemas.WithdrawIn, description="Why."),
)
@_guarded(permission=MANAGE_CONSENT)
def consent_withdraw(request: HttpRequest, reference: str) -> JsonResponse:
    body = _json_body(request)
    premise = _premise(reference)
    services.consent_withdraw(
        consent=_current_consent(premise), withdrawn_by=request.user, reason=_text(body, "reason")
    )
    return _premise_reply(request, premise)


@router.post(
    "/premises/{reference}/consent/override/",
    operation_id="consent_override",
    summary="Allow or forbid overriding events with the boost button",
    response=CHANGE_REPLIES,
    openapi_extra=documented_body(schemas.OverrideIn, description="Allowed or not, and why."),
)
@_guarded(permission=MANAGE_CONSENT)
def consent_override(request: HttpRequest, reference: str) -> JsonResponse:
    body = _json_body(request)
    premise = _premise(reference)
    allowed = _bool(body, "override_allowed")
    if allowed is None:
        raise ValidationError({"override_allowed": "required: true or false"})
    services.consent_override_set(
        consent=_current_consent(premise),
        override_allowed=allowed,
        set_by=request.user,
        reason=_text(body, "reason"),
    )
    return _premise_reply(request, premise)


@router.post(
    "/premises/{reference}/consent/preferences/",
    operation_id="consent_preferences",
    summary="How and how often the customer hears about events",
    response=CHANGE_REPLIES,
    openapi_extra=documented_body(schemas.PreferencesIn, description="The channel and frequency, and why."),
)
@_guarded(permission=MANAGE_CONSENT)
def consent_preferences(request: HttpRequest, reference: str) -> JsonResponse:
    body = _json_body(request)
    premise = _premise(reference)
    consent = _current_consent(premise)
    services.consent_preferences_set(
        consent=consent,
        notification_channel=_choice(body, "notification_channel", NotificationChannel, consent.notification_channel),
        notification_frequency=_choice(
            body, "notification_frequency", NotificationFrequency, consent.notification_frequency
        ),
        set_by=request.user,
        reason=_text(body, "reason"),
    )
    return _premise_reply(request, premise)


@router.post(
    "/premises/{reference}/tenancy/",
    operation_id="tenancy_change",
    summary="Record a change of tenancy",
    response={**CHANGE_REPLIES, 201: schemas.PremiseOut},
    openapi_extra=documented_body(schemas.TenancyChangeIn, description="The new occupant."),
)
@_guarded(permission=MANAGE_CONSENT)
def tenancy_change(request: HttpRequest, reference: str) -> JsonResponse:
    """Change of tenancy: ``{"customer": {...}, "at": ..., "reason": ...}``."""
    body = _json_body(request)
    premise = _premise(reference)
    customer = body.get("customer")
    if not isinstance(customer, dict):
        raise ValidationError({"customer": "required: an object with name and contact details"})
    with transaction.atomic():
        new_customer = services.customer_upsert(
            external_ref=_text(customer, "reference", required=False, label="customer.reference") or None,
            name=_text(customer, "name", label="customer.name"),
            email=_text(customer, "email", required=False, label="customer.email"),
            phone=_text(customer, "phone", required=False, label="customer.phone"),
            postal_address=_text(customer, "postal_address", required=False, label="customer.postal_address"),
        )
        services.tenancy_change_record(
            premise=premise,
            new_customer=new_customer,
            at=_datetime(body, "at", default=timezone.now()),
            recorded_by=request.user,
            reason=_text(body, "reason"),
            notification_channel=_choice(body, "notification_channel", NotificationChannel, NotificationChannel.EMAIL),
            notification_frequency=_choice(
                body, "notification_frequency", NotificationFrequency, NotificationFrequency.EACH_EVENT
            ),
        )
    return _premise_reply(request, premise, status=201)


@router.post(
    "/tenancy-feed/",
    operation_id="tenancy_feed",
    summary="Apply a CSV feed of changes of tenancy, all or nothing",
    response={200: schemas.FeedApplied, 400: schemas.FeedErrors | schemas.FieldErrors, **TOO_LARGE, **REFUSALS},
    openapi_extra=documented_body(
        description="CSV with a header row; premise_reference, name and reason are required.",
        other_types={"text/csv": {"schema": {"type": "string", "description": "Columns: " + ", ".join(FEED_COLUMNS)}}},
    ),
)
@_guarded(permission=MANAGE_CONSENT)
def tenancy_feed(request: HttpRequest) -> JsonResponse:
    """A CSV feed of changes of tenancy (``text/csv`` body), all or nothing."""
    result = tenancy_feed_apply(raw=io.BytesIO(_body(request)), recorded_by=request.user)
    if not result.ok:
        return error_reply(400, "the feed has errors; nothing was changed", errors=result.errors)
    return JsonResponse({"ok": True, "changes": result.applied})


@router.post(
    "/half-hours/",
    operation_id="half_hours_load",
    summary="Load half-hourly kWh per MPAN, all or nothing",
    response={
        200: schemas.HalfHoursResult,
        400: schemas.HalfHoursResult | schemas.FieldErrors,
        **TOO_LARGE,
        **REFUSALS,
    },
    openapi_extra=documented_body(
        schemas.HalfHoursIn,
        description="JSON, or CSV with the header mpan,period_start,kwh.",
        other_types={"text/csv": {"schema": {"type": "string", "description": "Header: mpan,period_start,kwh"}}},
    ),
)
@_guarded(permission=MANAGE_CONSENT)
def half_hours(request: HttpRequest) -> JsonResponse:
    """Half-hourly kWh as JSON ``{"readings": [...]}`` or a ``text/csv`` body; all or nothing."""
    if request.content_type == "text/csv":
        try:
            readings = list(profiles.halfhour_csv_readings(io.BytesIO(_body(request))))
        except (ValueError, UnicodeDecodeError) as exc:
            raise ValidationError(str(exc)) from None
    else:
        body = _json_body(request)
        items = body.get("readings")
        if not isinstance(items, list):
            raise ValidationError({"readings": "required: a list of {mpan, period_start, kwh}"})
        if not all(isinstance(item, dict) for item in items):
            raise ValidationError({"readings": "each reading is an object {mpan, period_start, kwh}"})
        readings = [profiles.HalfHourReading(i.get("mpan") or "", i.get("period_start"), i.get("kwh")) for i in items]
    result = profiles.halfhour_ingest(readings=readings)
    return JsonResponse(result.as_dict(), status=200 if result.ok else 400)


@router.get(
    "/imports/{job_id}/",
    operation_id="premises_import_progress",
    url_name="consent_import_progress",
    summary="Progress of a background premises import",
    response={200: schemas.ImportProgress, 404: ApiError, **REFUSALS},
)
@_guarded(permission=IMPORT_PREMISES)
def import_progress(request: HttpRequest, job_id: str) -> JsonResponse:
    """Progress of a background premises import (polled by the upload page)."""
    state = import_progress_get(job_id)
    if state is None:
        return error_reply(404, "no such import job (or it finished more than a day ago)")
    return JsonResponse(state)
