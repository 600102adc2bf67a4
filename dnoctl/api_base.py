"""Building blocks the machine APIs share.

Operations parse their own bodies because each API names bad input its own way and ingest parses
with orjson; ninja's validation would answer 422 in its own shape. The models describe the
bodies for the schema only, and schemathesis keeps them in step with the parsers."""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import CsrfViewMiddleware
from ninja import Schema
from ninja.openapi.schema import REF_TEMPLATE
from ninja.schema import NinjaGenerateJsonSchema
from ninja.security import APIKeyCookie

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
CSRF_FAILURE = "CSRF token missing or incorrect (session requests must send X-CSRFToken)"


class ApiError(Schema):
    error: str


def error_reply(status: int, message: str, **extra: Any) -> JsonResponse:
    """The error body of the consent and reports APIs and of every failure under ``/api/``."""
    return JsonResponse({"error": message, **extra}, status=status)


class ApiRefusal(Exception):
    """Stop an operation with a ready response, so every API keeps its own error body."""

    def __init__(self, response: HttpResponse):
        super().__init__(f"refused with {response.status_code}")
        self.response = response


def csrf_failed(request: HttpRequest) -> bool:
    """Django's own CSRF check, for views ninja exempts from the middleware's."""
    return CsrfViewMiddleware(lambda r: None).process_view(request, None, (), {}) is not None


class SessionAuth(APIKeyCookie):
    """A logged-in browser session; changes need the CSRF token. Refuses at once rather than
    letting ninja try another scheme, so list it last."""

    param_name = settings.SESSION_COOKIE_NAME
    openapi_description = "A logged-in session (the application's own pages); POSTs must send X-CSRFToken."

    def __init__(self, *, refusal: str = "authentication required"):
        super().__init__(csrf=True)  # tells ninja's docs page to send the CSRF token
        self.refusal = refusal

    def __call__(self, request: HttpRequest) -> Any:
        if not request.user.is_authenticated:
            raise ApiRefusal(error_reply(401, self.refusal))
        if request.method not in SAFE_METHODS and csrf_failed(request):
            raise ApiRefusal(error_reply(403, CSRF_FAILURE))
        return request.user

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:  # ninja's abstract hook
        raise NotImplementedError("__call__ does the whole check")


# --- bodies ----------------------------------------------------------------------------------


def request_body(request: HttpRequest, *, limit: int) -> bytes | None:
    """None when over ``limit`` (the caller answers 413). Read from the stream, so an API may
    exceed Django's form limit and refuse a declared oversize body unread."""
    kept = getattr(request, "_api_body", None)
    if kept is not None:
        return kept
    try:
        declared = int(request.headers.get("Content-Length") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        return None
    body = request.read(limit + 1)
    if len(body) > limit:
        return None
    request._api_body = body
    return body


# --- JSON bodies -----------------------------------------------------------------------------


def json_parse(raw: bytes | str) -> Any:
    """Every way a body can fail, including too deep nesting and over-long integers, as a
    ``ValueError`` naming the reason."""
    try:
        return json.loads(raw)
    except RecursionError:
        raise ValueError("nested too deeply") from None


def unstorable_text(value: Any) -> str | None:
    """Where a string holds text PostgreSQL cannot store (NUL, an unpaired surrogate), or None.
    Iterative, so a body nested as deep as the parser allows cannot overflow the stack."""
    pending: list[tuple[str, Any]] = [("", value)]
    while pending:
        where, item = pending.pop()
        if isinstance(item, str):
            if _unstorable(item):
                return where or "body"
        elif isinstance(item, dict):
            for key, child in item.items():
                child_where = f"{where}.{key}" if where else str(key)
                if _unstorable(str(key)):
                    return child_where
                pending.append((child_where, child))
        elif isinstance(item, list):
            pending.extend((f"{where}[{index}]", child) for index, child in enumerate(item))
    return None


def _unstorable(text: str) -> bool:
    if "\x00" in text:
        return True
    try:
        text.encode()
    except UnicodeEncodeError:  # an unpaired surrogate
        return True
    return False


UNSTORABLE = "must not contain NUL characters or unpaired surrogates"


# --- bodies the operations parse themselves ------------------------------------------------

_body_models: dict[str, type[Schema]] = {}


def documented_body(
    model: type[Schema] | None = None, *, description: str, other_types: dict[str, dict] | None = None
) -> dict[str, Any]:
    content: dict[str, dict] = {}
    if model is not None:
        _body_models[model.__name__] = model
        content["application/json"] = {"schema": {"$ref": REF_TEMPLATE.format(model=model.__name__)}}
    content.update(other_types or {})
    return {"requestBody": {"required": True, "description": description, "content": content}}


def documented_body_schemas() -> dict[str, dict]:
    schemas: dict[str, dict] = {}
    for name, model in _body_models.items():
        schema = model.model_json_schema(ref_template=REF_TEMPLATE, schema_generator=NinjaGenerateJsonSchema)
        schemas.update(schema.pop("$defs", {}))
        schemas[name] = schema
    return schemas
