"""The OpenAPI schema of the machine APIs: valid OpenAPI 3, served behind the login, listing
every API route with its methods and security schemes, with docs served from local files."""

from __future__ import annotations

import re

import pytest
from django.urls import get_resolver, resolve
from openapi_spec_validator import validate

from tests.api.conformance import openapi_schema

pytestmark = pytest.mark.django_db

SCHEMA_URL = "/api/v1/openapi.json"
DOCS_URL = "/api/v1/docs"
MONITOR = [{"MonitorBearer": []}]
CONSENT = [{"ConsentApiToken": []}, {"SessionAuth": []}]
SESSION = [{"SessionAuth": []}]
# Every operation of every API, and who may call it.
OPERATIONS = {
    ("/api/v1/telemetry/", "post"): MONITOR,
    ("/api/v1/alerts/", "post"): MONITOR,
    ("/api/v1/consent/premises/{reference}/", "get"): CONSENT,
    ("/api/v1/consent/premises/{reference}/consent/grant/", "post"): CONSENT,
    ("/api/v1/consent/premises/{reference}/consent/decline/", "post"): CONSENT,
    ("/api/v1/consent/premises/{reference}/consent/withdraw/", "post"): CONSENT,
    ("/api/v1/consent/premises/{reference}/consent/override/", "post"): CONSENT,
    ("/api/v1/consent/premises/{reference}/consent/preferences/", "post"): CONSENT,
    ("/api/v1/consent/premises/{reference}/tenancy/", "post"): CONSENT,
    ("/api/v1/consent/awaiting-consent/", "get"): CONSENT,
    ("/api/v1/consent/tenancy-feed/", "post"): CONSENT,
    ("/api/v1/consent/half-hours/", "post"): CONSENT,
    ("/api/v1/consent/imports/{job_id}/", "get"): CONSENT,
    ("/api/v1/reports/summary", "get"): SESSION,
    ("/api/v1/reports/exports/", "post"): SESSION,
    ("/api/v1/reports/exports/{export_id}/", "get"): SESSION,
    ("/api/v1/reports/exports/{export_id}/download", "get"): SESSION,
    ("/dcc/responses/", "post"): [],  # the DCC's XML signature, checked by the view
}
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def _routes(patterns, prefix: str = ""):
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if hasattr(pattern, "url_patterns"):
            yield from _routes(pattern.url_patterns, route)
        else:
            yield route


def _api_routes() -> set[str]:
    """Every routed API address, written as an OpenAPI path."""
    not_operations = {SCHEMA_URL, DOCS_URL, "/api/v1/"}
    routes = {"/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route) for route in _routes(get_resolver().url_patterns)}
    return {route for route in routes if route.startswith(("/api/", "/dcc/")) and route not in not_operations}


def test_the_schema_is_valid_openapi_3():
    schema = openapi_schema()

    validate(schema)
    assert schema["openapi"].startswith("3.")


def test_every_api_operation_is_listed_with_its_security():
    schema = openapi_schema()

    listed = {
        (path, method): operation.get("security", [])
        for path, item in schema["paths"].items()
        for method, operation in item.items()
        if method in HTTP_METHODS
    }
    assert listed == OPERATIONS
    schemes = schema["components"]["securitySchemes"]
    assert {name: {k: v for k, v in scheme.items() if k != "description"} for name, scheme in schemes.items()} == {
        "MonitorBearer": {"type": "http", "scheme": "bearer"},
        "ConsentApiToken": {"type": "http", "scheme": "bearer"},
        "SessionAuth": {"type": "apiKey", "in": "cookie", "name": "sessionid"},
    }
    assert all(scheme["description"] for scheme in schemes.values())


def test_every_api_route_is_in_the_schema_and_every_schema_path_is_routed():
    documented = set(openapi_schema()["paths"])

    assert _api_routes() == documented
    for path in documented:
        assert resolve(re.sub(r"{\w+}", "x", path)).route == re.sub(r"{(\w+)}", r"<\1>", path).lstrip("/")


def test_every_operation_documents_its_replies_and_json_bodies():
    schema = openapi_schema()

    for (path, method), security in OPERATIONS.items():
        operation = schema["paths"][path][method]
        replies = set(operation["responses"])
        assert any(status.startswith("2") for status in replies), (path, method)
        if security:
            assert "401" in replies, (path, method)
        # A monitor token either may post for a feeder or does not know it (400): no 403.
        if security and security != MONITOR:
            assert "403" in replies, (path, method)
        if method == "post":
            assert operation["requestBody"]["content"], (path, method)
        for media in operation.get("requestBody", {}).get("content", {}).values():
            ref = media["schema"].get("$ref", "")
            assert not ref or ref.rsplit("/", 1)[1] in schema["components"]["schemas"], (path, ref)


def test_the_schema_is_served_to_any_logged_in_user(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("no-role", password="x-correct-horse"))

    response = client.get(SCHEMA_URL)

    assert response.status_code == 200
    assert response.json() == openapi_schema()


def test_the_schema_and_docs_need_a_login(client):
    schema = client.get(SCHEMA_URL)
    docs = client.get(DOCS_URL, HTTP_ACCEPT="text/html,application/xhtml+xml")

    assert schema.status_code == 401
    assert schema.json() == {"error": "authentication required"}
    assert docs.status_code == 302
    assert docs["Location"].startswith("/accounts/login/?next=/api/v1/docs")


def test_the_docs_page_loads_only_local_files(viewer_client):
    page = viewer_client.get(DOCS_URL)

    assert page.status_code == 200
    html = page.content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    # Linked by its content-hashed name from collectstatic's manifest, as every static file.
    assert any(re.search(r"/swagger-ui-bundle(\.[0-9a-f]{12})?\.js$", asset) for asset in assets), assets
    assert all(asset.startswith("/static/") for asset in assets), assets
    assert '"validatorUrl": null' in html  # Swagger UI would fetch a badge from swagger.io
    for asset in assets:
        assert viewer_client.get(asset).status_code == 200, asset
