"""Every failure under ``/api/`` is JSON, whoever answers it: a client parsing JSON would
otherwise fail on Django's HTML error pages instead of reading them."""

from __future__ import annotations

from http import HTTPStatus

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults

from dnoctl.api_base import error_reply

API_PREFIX = "/api/"
# Headers of the original reply a client still needs (what to send, which methods).
KEPT_HEADERS = ("Allow", "WWW-Authenticate", "Retry-After")


def is_api_request(request: HttpRequest) -> bool:
    return request.path.startswith(API_PREFIX)


def body_too_large(limit: int | None = None) -> JsonResponse:
    limit = limit or settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return error_reply(413, f"request body too large: at most {limit} bytes")


def api_error_text(request: HttpRequest, response: HttpResponse) -> str:
    status = response.status_code
    if status == 404:
        return f"no such API address: {request.path}"
    if status == 405:
        return f"method {request.method} not allowed here; allowed: {response.get('Allow', 'none')}"
    if status == 413:
        return "request body too large"
    if status >= 500:
        return "internal error: the request was logged"
    try:
        return HTTPStatus(status).phrase.lower()
    except ValueError:
        return f"error {status}"


def _is_json(response: HttpResponse) -> bool:
    return response.get("Content-Type", "").split(";")[0].strip() == "application/json"


class ApiErrorsAsJsonMiddleware:
    """Outermost, so it also sees replies of other middleware and Django's error handlers. Sync
    and async alike, so under ASGI telemetry stays on the event loop."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest):
        if iscoroutinefunction(self):
            return self._acall(request)
        return api_error_as_json(request, self.get_response(request))

    async def _acall(self, request: HttpRequest) -> HttpResponse:
        return api_error_as_json(request, await self.get_response(request))


def api_error_as_json(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    if not is_api_request(request) or response.status_code < 400 or _is_json(response):
        return response
    rewritten = error_reply(response.status_code, api_error_text(request, response))
    for header in KEPT_HEADERS:
        if header in response:
            rewritten[header] = response[header]
    # Django logs an error reply once: a reply its handlers already logged stays logged.
    rewritten._has_been_logged = getattr(response, "_has_been_logged", False)
    # Not response.close(): it sends request_finished, which closes the database
    # connection in the middle of the request. An error page holds no file to release.
    return rewritten


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """``handler400``: a body over ``DATA_UPLOAD_MAX_MEMORY_SIZE`` on an API is a JSON 413."""
    if is_api_request(request):
        if isinstance(exception, RequestDataTooBig):
            return body_too_large()
        return error_reply(400, "bad request")
    return defaults.bad_request(request, exception)
