"""Machine APIs of the feeders app: telemetry from LV monitors, alerts from the DNO's SCADA.

They authenticate with a bearer token, not a session cookie, so there is nothing for a forged
request to ride on and CSRF does not apply."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

import orjson
from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIRequest
from django.db import close_old_connections
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from ninja import Router
from ninja.security import HttpBearer

from core.times import datetime_with_offset
from dnoctl.api_base import UNSTORABLE, ApiRefusal, documented_body, json_parse, unstorable_text
from feeders import schemas
from feeders.models import MonitorToken
from feeders.selectors import feeder_for_token, monitor_token_authenticate
from feeders.services import (
    FUTURE_SKEW,
    TelemetryRejected,
    feeder_alert_raise_external,
    telemetry_ingest,
)

# 5,000 rows of ~120 bytes each, with room for pretty-printing; anything bigger is refused
# before it is read into memory.
MAX_BODY_BYTES = 2 * 1024 * 1024


# Under ASGI, Django runs each sync request in a fresh thread, and a fresh thread means a
# fresh PostgreSQL connection (a backend process forked per request): at hundreds of
# ingest batches a second that was the largest cost. Ingest therefore runs in a few
# long-lived threads whose connections persist (recycled by CONN_MAX_AGE and health
# checks, as between requests). Under WSGI and in tests it runs in the caller's thread.
INGEST_THREADS = 4
_ingest_executor = ThreadPoolExecutor(max_workers=INGEST_THREADS, thread_name_prefix="ingest")


def _with_connection_hygiene(handler: Callable[[HttpRequest], JsonResponse]) -> Callable[[HttpRequest], JsonResponse]:
    def run(request: HttpRequest) -> JsonResponse:
        close_old_connections()  # what request_started does for a normal request
        try:
            return handler(request)
        finally:
            close_old_connections()

    return run


async def _run_sync(handler: Callable[[HttpRequest], JsonResponse], request: HttpRequest) -> JsonResponse:
    if isinstance(request, ASGIRequest):
        pooled = sync_to_async(_with_connection_hygiene(handler), thread_sensitive=False, executor=_ingest_executor)
        return await pooled(request)
    return await sync_to_async(handler)(request)


def _error(status: int, reason: str, field: str | None = None) -> JsonResponse:
    return JsonResponse({"errors": [{"row": None, "field": field, "reason": reason}]}, status=status)


def _unauthorized(reason: str) -> JsonResponse:
    response = _error(401, reason)
    response["WWW-Authenticate"] = 'Bearer realm="dnoctl"'
    return response


class MonitorBearer(HttpBearer):
    """Checks only the header on the event loop; the token is looked up in the ingest thread, so
    a batch costs one thread hop."""

    openapi_description = "A monitor or SCADA token from manage.py monitor_token."

    def __call__(self, request: HttpRequest) -> Any:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiRefusal(_unauthorized("missing bearer token: send Authorization: Bearer <token>"))
        return self.authenticate(request, token.strip())

    async def authenticate(self, request: HttpRequest, token: str) -> str:
        return token  # async, so ninja calls it on the event loop, not through a thread


def _authenticate(request: HttpRequest) -> MonitorToken | JsonResponse:
    found = monitor_token_authenticate(token=request.auth)
    return found if found is not None else _unauthorized("unknown or revoked token")


def _json_body(request: HttpRequest) -> Any | JsonResponse:
    try:
        length = int(request.headers.get("Content-Length") or 0)
    except ValueError:
        return _error(400, "bad Content-Length")
    if length > MAX_BODY_BYTES:
        return _error(413, f"request body of {length} bytes exceeds {MAX_BODY_BYTES}")
    body = request.read(MAX_BODY_BYTES + 1)
    if len(body) > MAX_BODY_BYTES:
        return _error(413, f"request body exceeds {MAX_BODY_BYTES} bytes")
    try:
        return _parse_json(body)
    except ValueError as exc:  # syntax, encoding, nesting, digits, unstorable text: see _parse_json
        return _error(400, f"malformed JSON: {exc}")


def _parse_json(body: bytes) -> Any:
    """orjson first (faster on a batch); whatever it refuses goes to ``json.loads``, so a body
    gets the stdlib's result or error exactly (a ``NaN`` amps value is a 400 naming its row).
    Only the stdlib can return an unpaired surrogate, which the database cannot store, so only
    its result is searched."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        value = json_parse(body)
    where = unstorable_text(value)
    if where is not None:
        raise ValueError(f"{where} {UNSTORABLE}")
    return value


router = Router(auth=MonitorBearer(), tags=["telemetry and alerts"])
# No 403: a token is either unknown (401) or may post, and a feeder it may not post for is
# an unknown feeder (400), exactly as one that does not exist.
ROW_ERRORS = {status: schemas.RowErrors for status in (400, 401, 413)}


@router.post(
    "/telemetry/",
    operation_id="telemetry_ingest",
    summary="Post a batch of feeder readings",
    response={202: schemas.TelemetryAccepted, **ROW_ERRORS},
    openapi_extra=documented_body(schemas.TelemetryBatch, description="At most 5,000 readings and 2 MiB."),
)
async def telemetry(request: HttpRequest) -> JsonResponse:
    """``POST /api/v1/telemetry/``: a batch of readings, stored all or nothing.

    202 ``{"accepted": n, "duplicates": d}``; 400 listing each bad row; 401 bad token; 413 too
    big. A feeder the token may not post for is unknown (400)."""
    return await _run_sync(_telemetry, request)


def _telemetry(request: HttpRequest) -> JsonResponse:
    token = _authenticate(request)
    if isinstance(token, JsonResponse):
        return token
    body = _json_body(request)
    if isinstance(body, JsonResponse):
        return body
    if not isinstance(body, dict) or "readings" not in body:
        return _error(400, 'expected an object {"readings": [...]}', field="readings")
    unknown = sorted(set(body) - {"readings"})
    if unknown:
        return _error(400, f"unknown top-level field(s): {', '.join(unknown)}", field=unknown[0])
    try:
        result = telemetry_ingest(token=token, readings=body["readings"])
    except TelemetryRejected as rejected:
        return JsonResponse({"errors": rejected.errors}, status=rejected.status)
    return JsonResponse({"accepted": result.accepted, "duplicates": result.duplicates}, status=202)


ALERT_FIELDS = {"feeder", "raised_at", "reason", "load_percent"}


def _alert_errors(body: Any) -> tuple[list[dict], datetime | None]:
    errors: list[dict] = []

    def bad(field: str | None, reason: str) -> None:
        errors.append({"row": None, "field": field, "reason": reason})

    if not isinstance(body, dict):
        bad(None, "expected a JSON object")
        return errors, None
    for unknown in sorted(set(body) - ALERT_FIELDS):
        bad(unknown, "unknown field")
    for name in sorted(ALERT_FIELDS & set(body)):
        if unstorable_text(body[name]) is not None:
            bad(name, UNSTORABLE)
    if not isinstance(body.get("feeder"), str) or not body.get("feeder"):
        bad("feeder", "required: the feeder code")
    reason = body.get("reason")
    if not isinstance(reason, str) or not reason.strip() or len(reason) > 1000:
        bad("reason", "required: a non-empty string of at most 1000 characters")
    load = body.get("load_percent")
    if load is not None and (
        isinstance(load, bool) or not isinstance(load, int | float) or not 0 <= load <= 1000 or load != load
    ):
        bad("load_percent", "must be a number from 0 to 1000 (percent of rating)")
    raised_at = None
    try:
        parsed = datetime_with_offset(body.get("raised_at"))
    except ValueError as exc:
        bad("raised_at", str(exc))
    else:
        if parsed > timezone.now() + FUTURE_SKEW:
            bad("raised_at", "in the future")
        else:
            raised_at = parsed
    return errors, raised_at


@router.post(
    "/alerts/",
    operation_id="alert_raise",
    summary="Raise an external (SCADA) alert on a feeder",
    response={200: schemas.AlertRaised, 201: schemas.AlertRaised, **ROW_ERRORS},
    openapi_extra=documented_body(schemas.ExternalAlert, description="One alert."),
)
async def alerts(request: HttpRequest) -> JsonResponse:
    """``POST /api/v1/alerts/``: the DNO's SCADA raises an alert on a feeder."""
    return await _run_sync(_alerts, request)


def _alerts(request: HttpRequest) -> JsonResponse:
    """201 with the new alert; 200 with the already-open alert (state change only)."""
    token = _authenticate(request)
    if isinstance(token, JsonResponse):
        return token
    body = _json_body(request)
    if isinstance(body, JsonResponse):
        return body
    errors, raised_at = _alert_errors(body)
    if errors:
        return JsonResponse({"errors": errors}, status=400)
    feeder = feeder_for_token(token=token, code=body["feeder"])
    if feeder is None:
        return _error(400, f"unknown feeder code {body['feeder']!r}", field="feeder")
    result = feeder_alert_raise_external(
        feeder=feeder,
        raised_at=raised_at,
        reason=body["reason"].strip(),
        source=f"external:{token.name}",
        load_percent=body.get("load_percent"),
    )
    return JsonResponse(
        {"alert_id": result.alert.pk, "created": result.created, "kind": result.alert.kind},
        status=201 if result.created else 200,
    )
