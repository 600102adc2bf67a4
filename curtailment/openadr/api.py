"""dnoctl's OpenADR 3.0.1 VTN: the part of the API a provider's VEN needs to receive call-offs and
report delivery (docs/asp-openadr.md).

A VEN sees only its own contracts' programmes, events and reports. dnoctl writes programmes and
events through the database, so their POST/PUT/DELETE are not offered. Refusals are RFC 7807
problems.
"""

from __future__ import annotations

import json

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from ninja import NinjaAPI, Query, Schema, Status
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.security import HttpBearer
from pydantic import Field

from curtailment.models import AspVen
from curtailment.openadr import objects, selectors
from curtailment.openadr.auth import ScopeRefused, scopes_granted, token_issue, token_ven
from curtailment.openadr.schemas import (
    AuthError,
    Event,
    Problem,
    Program,
    Report,
    ReportIn,
    TokenReply,
)
from curtailment.services.asp import ReportRefused, asp_calloffs_seen, asp_report_record, asp_ven_authenticate

BASE_PATH = "openadr3/3.0.1/"
MAX_LIMIT = 50
PROBLEMS = {400: Problem, 401: Problem, 403: Problem, 404: Problem}


def problem(status: int, title: str, detail: str | None = None, **headers: str) -> JsonResponse:
    response = JsonResponse(
        {"type": "about:blank", "title": title, "status": status, "detail": detail},
        status=status,  # application/json, as the specification gives problems
    )
    for name, value in headers.items():
        response[name] = value
    return response


class VenBearer(HttpBearer):
    """A bearer token from ``auth/token``: the request's VEN is ``request.auth``."""

    openapi_description = "A token from POST auth/token (OAuth 2 client credentials)."

    def authenticate(self, request: HttpRequest, token: str) -> AspVen | None:
        found = token_ven(token)
        if found is None:
            return None
        ven, scopes = found
        request.ven_scopes = scopes
        return ven


def _needs(request: HttpRequest, scope: str) -> None:
    if scope not in getattr(request, "ven_scopes", ()):
        raise HttpError(403, f"this token lacks the {scope} scope")


vtn = NinjaAPI(
    title="dnoctl OpenADR 3 VTN",
    version="3.0.1",
    description="Call-offs of ASP contracts (NF14) for the providers' VENs. See docs/asp-openadr.md.",
    urls_namespace="openadr",
    auth=VenBearer(),
    docs_url=None,
)


@vtn.exception_handler(AuthenticationError)
def _unauthenticated(request: HttpRequest, exc: AuthenticationError) -> JsonResponse:
    return problem(
        401, "Unauthorized", "a valid bearer token from auth/token is needed", **{"WWW-Authenticate": "Bearer"}
    )


@vtn.exception_handler(ValidationError)
def _invalid(request: HttpRequest, exc: ValidationError) -> JsonResponse:
    detail = "; ".join(
        f"{'.'.join(str(part) for part in error.get('loc', ()) if part not in ('body', 'query', 'path', 'report'))}: "
        f"{error.get('msg')}"
        for error in exc.errors
    )
    return problem(400, "Bad Request", detail)


@vtn.exception_handler(HttpError)
def _refused(request: HttpRequest, exc: HttpError) -> JsonResponse:
    titles = {400: "Bad Request", 403: "Forbidden", 404: "Not Found"}
    return problem(exc.status_code, titles.get(exc.status_code, "Error"), str(exc))


# --- auth/token ----------------------------------------------------------------------------------


TOKEN_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "required": ["grant_type", "client_id", "client_secret"],
                    "properties": {
                        "grant_type": {"type": "string", "enum": ["client_credentials"]},
                        "client_id": {"type": "string"},
                        "client_secret": {"type": "string"},
                        "scope": {"type": "string", "description": "space-separated: read_all write_reports"},
                    },
                }
            }
        },
    }
}


def _auth_error(error: str, description: str) -> JsonResponse:
    return JsonResponse({"error": error, "error_description": description}, status=400)


@vtn.post(
    "auth/token",
    auth=None,
    response={200: TokenReply, 400: AuthError},
    openapi_extra=TOKEN_BODY,
    summary="Exchange a VEN's client credentials for a bearer token",
    tags=["auth"],
)
def token(request: HttpRequest):
    form = request.POST
    if form.get("grant_type") != "client_credentials":
        return _auth_error("unsupported_grant_type", "grant_type must be client_credentials")
    if not form.get("client_id") or not form.get("client_secret"):
        return _auth_error("invalid_request", "client_id and client_secret are required")
    ven = asp_ven_authenticate(client_id=form["client_id"], client_secret=form["client_secret"])
    if ven is None:
        return _auth_error("invalid_client", "unknown client_id or wrong client_secret")
    try:
        scopes = scopes_granted(form.get("scope"))
    except ScopeRefused as exc:
        return _auth_error("invalid_scope", str(exc))
    access_token, ttl = token_issue(ven=ven, scopes=scopes)
    return {"access_token": access_token, "token_type": "Bearer", "expires_in": ttl, "scope": " ".join(scopes)}


# --- programmes ------------------------------------------------------------------------------


class Page(Schema):
    skip: int = Field(0, ge=0)
    limit: int = Field(MAX_LIMIT, ge=0, le=MAX_LIMIT)


@vtn.get("programs", response={200: list[Program], **PROBLEMS}, summary="The VEN's programmes", tags=["programs"])
def programs(request: HttpRequest, page: Query[Page]):
    _needs(request, "read_all")
    contracts = selectors.ven_programmes(request.auth, skip=page.skip, limit=page.limit)
    return [objects.program_object(contract) for contract in contracts]


@vtn.get("programs/{programID}", response={200: Program, **PROBLEMS}, summary="One programme", tags=["programs"])
def program(request: HttpRequest, programID: str):
    _needs(request, "read_all")
    contract = selectors.ven_programme(request.auth, objects.contract_pk(programID))
    if contract is None:
        raise HttpError(404, f"no programme {programID} for this VEN")
    return objects.program_object(contract)


# --- events ----------------------------------------------------------------------------------


class EventFilter(Page):
    programID: str | None = None
    targetType: str | None = None
    targetValues: list[str] | None = None


@vtn.get(
    "events",
    response={200: list[Event], **PROBLEMS},
    summary="The VEN's live call-offs",
    description="Call-offs not yet released. A released call-off leaves the list; "
    "GET events/{eventID} still shows it, its interval ending at the release.",
    tags=["events"],
)
def events(request: HttpRequest, filters: Query[EventFilter]):
    _needs(request, "read_all")
    page = selectors.ven_calloffs_live(
        request.auth,
        contract_pk=objects.contract_pk(filters.programID or ""),
        program_given=filters.programID is not None,
        target_type=filters.targetType,
        target_values=filters.targetValues or [],
        skip=filters.skip,
        limit=filters.limit,
    )
    asp_calloffs_seen(ven=request.auth, calloff_ids=[c.pk for c in page if c.seen_at is None], at=timezone.now())
    return [objects.event_object(calloff) for calloff in page]


@vtn.get("events/{eventID}", response={200: Event, **PROBLEMS}, summary="One call-off", tags=["events"])
def event(request: HttpRequest, eventID: str):
    _needs(request, "read_all")
    calloff = selectors.ven_calloff(request.auth, objects.calloff_pk(eventID))
    if calloff is None:
        raise HttpError(404, f"no event {eventID} for this VEN")
    if calloff.seen_at is None:
        asp_calloffs_seen(ven=request.auth, calloff_ids=[calloff.pk], at=timezone.now())
    return objects.event_object(calloff)


# --- reports ---------------------------------------------------------------------------------


class ReportFilter(Page):
    programID: str | None = None
    eventID: str | None = None
    clientName: str | None = None


@vtn.post(
    "reports",
    response={201: Report, **PROBLEMS},
    summary="Report delivery on a call-off",
    description="DELTA_USAGE in KW, negative for less load; the AGGREGATED_REPORT resource "
    "(or the sum over the resources), last interval. What is credited is at most what was asked for.",
    tags=["reports"],
)
def report_create(request: HttpRequest, report: ReportIn):
    _needs(request, "write_reports")
    body = json.loads(request.body)  # ninja has parsed it already: kept as received
    try:
        stored = asp_report_record(ven=request.auth, report=report, body=body)
    except ReportRefused as exc:
        raise HttpError(exc.status, exc.detail) from None
    return Status(201, objects.report_object(stored))


@vtn.get("reports", response={200: list[Report], **PROBLEMS}, summary="The VEN's reports", tags=["reports"])
def reports(request: HttpRequest, filters: Query[ReportFilter]):
    _needs(request, "read_all")
    rows = selectors.ven_reports(
        request.auth,
        calloff_pk=objects.calloff_pk(filters.eventID or ""),
        event_given=filters.eventID is not None,
        contract_pk=objects.contract_pk(filters.programID or ""),
        program_given=filters.programID is not None,
        client_name=filters.clientName,
        skip=filters.skip,
        limit=filters.limit,
    )
    return [objects.report_object(row) for row in rows]


@vtn.get("reports/{reportID}", response={200: Report, **PROBLEMS}, summary="One report", tags=["reports"])
def report(request: HttpRequest, reportID: str):
    _needs(request, "read_all")
    pk = reportID.removeprefix("report-")
    row = selectors.ven_report(request.auth, int(pk) if pk.isdigit() and len(pk) < 19 else None)
    if row is None:
        raise HttpError(404, f"no report {reportID} of this VEN")
    return objects.report_object(row)


def not_found(request: HttpRequest, exception=None) -> JsonResponse:
    return problem(404, "Not Found", f"no OpenADR 3 resource at {request.path}")


def server_error(request: HttpRequest) -> JsonResponse:
    return problem(500, "Internal Server Error")


def vtn_urls() -> tuple[list, str, str]:
    """``vtn.urls``, exempt from the login middleware: operations other than the token exchange and
    schema need a VEN's bearer token."""
    patterns, app_name, namespace = vtn.urls
    for pattern in patterns:
        login_not_required(pattern.callback)
    return patterns, app_name, namespace
