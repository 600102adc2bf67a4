"""The reply check every test runs (``tests.api.conformance``) catches what it is for: a
reply unlike its schema, an undocumented status, an API path the schema does not list."""

from __future__ import annotations

from django.http import HttpResponse, JsonResponse
from django.test import RequestFactory
from django.urls import resolve

from tests.api.conformance import reply_problem


def _request(method: str, path: str):
    request = RequestFactory().generic(method, path)
    request.resolver_match = resolve(path)
    return request


def test_a_reply_as_the_schema_describes_it_passes():
    request = _request("POST", "/api/v1/telemetry/")

    assert reply_problem(request, JsonResponse({"accepted": 4, "duplicates": 0}, status=202)) is None


def test_a_reply_unlike_its_schema_is_named():
    request = _request("POST", "/api/v1/telemetry/")

    problem = reply_problem(request, JsonResponse({"accepted": "four", "duplicates": 0}, status=202))

    assert problem is not None
    assert "POST /api/v1/telemetry/ -> 202" in problem and "accepted" in problem


def test_an_undocumented_status_is_named():
    request = _request("POST", "/api/v1/telemetry/")

    assert reply_problem(request, JsonResponse({"detail": "teapot"}, status=418)) is not None


def test_a_text_reply_where_json_is_documented_is_named():
    request = _request("GET", "/api/v1/reports/summary")

    assert reply_problem(request, HttpResponse("Server Error", status=400, content_type="text/html")) is not None


def test_an_api_path_missing_from_the_schema_is_named():
    request = RequestFactory().get("/api/v1/undocumented/")

    assert reply_problem(request, JsonResponse({}, status=200)) is not None


def test_pages_outside_the_apis_are_not_checked():
    request = RequestFactory().get("/feeders/")

    assert reply_problem(request, HttpResponse("<html>", status=200)) is None
