"""Every API reply a test sees is checked against the OpenAPI schema (openapi-core): a
reply the schema does not describe, or an API path it does not list (unless the reply is
the generic JSON 404 of an address with no operation), fails the test that got it.
``tests/conftest.py`` puts the middleware first for the whole session; the real processes
of ``tests.processes`` run without it (schemathesis checks those).
"""

from __future__ import annotations

import json
from functools import cache

from django.http import HttpRequest, HttpResponse
from openapi_core import OpenAPI
from openapi_core.contrib.django import DjangoOpenAPIRequest, DjangoOpenAPIResponse
from openapi_core.templating.paths.exceptions import PathNotFound

API_PREFIXES = ("/api/", "/dcc/")
# The schema, its docs and the API root describe the API; they are not operations of it.
NOT_OPERATIONS = ("/api/v1/openapi.json", "/api/v1/docs", "/api/v1/")


class RequestOfReply(DjangoOpenAPIRequest):
    """The request, as far as finding its operation goes: checking a reply needs no body
    (and the telemetry view has read it from the stream, so Django no longer has it)."""

    @property
    def body(self) -> bytes:
        return b""


@cache
def openapi_schema() -> dict:
    """The schema as served (JSON round trip: status codes become strings)."""
    from dnoctl.api import api

    return json.loads(json.dumps(api.get_openapi_schema()))


@cache
def openapi() -> OpenAPI:
    return OpenAPI.from_dict(openapi_schema())


def generic_error_problem(request: HttpRequest, response: HttpResponse) -> str | None:
    """Why a reply no operation makes (a wrong method, an address with no operation) is not
    the JSON ``{"error": text}`` every failure under /api/ is (``dnoctl.api_errors``)."""
    if not request.path.startswith("/api/"):
        return None  # the DCC's endpoint answers text/plain, as its schema says
    body = b"" if response.streaming else response.content
    try:
        parsed = json.loads(body)
    except ValueError:
        parsed = None
    if response["Content-Type"] != "application/json" or not (
        isinstance(parsed, dict) and list(parsed) == ["error"] and isinstance(parsed["error"], str)
    ):
        return f'{request.method} {request.path} -> {response.status_code} {body[:300]!r}: not JSON {{"error": text}}'
    return None


def reply_problem(request: HttpRequest, response: HttpResponse) -> str | None:
    """Why the reply does not match the schema, or None when it does (or is not an API's)."""
    if not request.path.startswith(API_PREFIXES) or request.path in NOT_OPERATIONS:
        return None
    if response.status_code == 405:
        return generic_error_problem(request, response)  # refused before any operation runs
    try:
        openapi().validate_response(RequestOfReply(request), DjangoOpenAPIResponse(response))
    except PathNotFound:
        if response.status_code >= 400:  # no operation here (or a test's own view that fails)
            return generic_error_problem(request, response)
        return f"{request.method} {request.path} -> {response.status_code}: not a path of the schema"
    except Exception as exc:  # openapi-core's errors say what did not match, their causes say where
        causes = [str(exc)]
        cause = exc.__cause__
        while cause is not None:
            causes.append(str(cause))
            for error in getattr(cause, "schema_errors", ()):
                causes.append(f"{list(error.absolute_path)}: {error.message}")
            cause = cause.__cause__
        body = b"" if response.streaming else response.content[:500]
        return f"{request.method} {request.path} -> {response.status_code} {body!r}: " + "; ".join(
            dict.fromkeys(causes)
        )
    return None


class SchemaConformanceMiddleware:
    """Fail the request (and so the test) when an API reply does not match the schema."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        problem = reply_problem(request, response)
        if problem is not None:
            raise AssertionError(f"reply not described by the OpenAPI schema: {problem}")
        return response
