"""The machine APIs as one django-ninja API at ``/api/v1/`` (guide: docs/api.md).

The schema and Swagger UI need a login, and Swagger's files come from the installed package,
never a CDN: control rooms are often offline."""

from __future__ import annotations

from typing import Any

from csp.decorators import csp_update
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI, Swagger

from consent.api import router as consent_router
from dnoctl.api_base import ApiRefusal, SessionAuth, documented_body_schemas, error_reply
from dnoctl.api_errors import body_too_large
from feeders.api import router as feeders_router
from reports.views import router as reports_router


def _text_reply(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"text/plain": {"schema": {"type": "string"}}}}


# POST /dcc/responses/ is a plain Django view, not a ninja operation, and nothing here
# imports it: the DCC authenticates each document by its XML signature, and the view lives
# in the dcc app (dcc/views.py, routed by dcc/urls.py). The schema only describes it;
# tests/api checks that the path resolves.
DCC_PATHS: dict[str, Any] = {
    "/dcc/responses/": {
        "post": {
            "operationId": "dcc_response_receive",
            "summary": "Receive a device response or alert from the DCC",
            "description": (
                "The DCC (or its simulator) POSTs one signed DUIS sr:Response per request: a device's "
                "response to a service request, or an alert. No login and no token: the document's XML "
                "signature (ECDSA P-256 by the DCC's certificate) is verified before anything is read. "
                "Every document that verifies is stored and answered 200 with what was done with it; "
                "refusals are logged and change nothing."
            ),
            "tags": ["DCC"],
            "security": [],
            "requestBody": {
                "required": True,
                "content": {"application/xml": {"schema": {"type": "string", "description": "A signed sr:Response"}}},
            },
            "responses": {
                "200": _text_reply(
                    "Verified and kept: applied, duplicate, ignored, alert, logged or unknown_request "
                    "(one word and a newline)"
                ),
                "400": _text_reply("Malformed or hostile XML"),
                "403": _text_reply("Unsigned, or not signed by a DCC certificate we trust"),
            },
        }
    }
}


class DnoctlApi(NinjaAPI):
    """Its schema also holds the request bodies operations parse themselves, and the DCC's endpoint."""

    def get_openapi_schema(self, *, path_prefix: str | None = None, path_params: dict | None = None) -> dict:
        schema = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        schema["components"]["schemas"].update(documented_body_schemas())
        schema["paths"].update(DCC_PATHS)
        return schema


api = DnoctlApi(
    title="dnoctl machine APIs",
    version="1",
    description=(
        "Telemetry and alerts from LV monitors and SCADA, the consent API for the DNO's customer systems, "
        "the Ofgem reports API, and the endpoint the DCC answers on. See docs/api.md."
    ),
    urls_namespace="api",
    auth=SessionAuth(),  # any operation that names no other scheme needs a login
    # validatorUrl: Swagger UI would otherwise fetch a badge from validator.swagger.io.
    docs=Swagger(settings={"validatorUrl": None}),
)
api.add_router("/", feeders_router)
api.add_router("/consent/", consent_router)
api.add_router("/reports/", reports_router)


@api.exception_handler(ApiRefusal)
def _refusal(request: HttpRequest, exc: ApiRefusal) -> HttpResponse:
    return exc.response


@api.exception_handler(RequestDataTooBig)
def _too_large(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
    return body_too_large()


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return error_reply(404, str(exc) or "not found")


# Swagger UI's stylesheet draws its icons (arrows, copy, lock) as data: SVG images; the
# docs page alone may load those, on top of the site's policy (dnoctl.csp). Its scripts and
# styles are files, like the dashboard's.
DOCS_CSP_UPDATE = {"img-src": ["data:"]}


def api_urls() -> tuple[list, str, str]:
    """The operations are exempt from the login middleware because each authenticates itself;
    the schema and docs stay behind it."""
    patterns, app_name, namespace = api.urls
    for pattern in patterns:
        if pattern.name == "openapi-view":
            pattern.callback = csp_update(DOCS_CSP_UPDATE)(pattern.callback)
        elif pattern.name not in ("openapi-json", "api-root"):
            login_not_required(pattern.callback)
    return patterns, app_name, namespace
