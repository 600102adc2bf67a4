"""Login required on every page and API, with the few exceptions marked explicitly."""

from django.contrib.auth.middleware import LoginRequiredMiddleware

from dnoctl.api_base import error_reply


class LoginRequiredEverywhereMiddleware(LoginRequiredMiddleware):
    """Django's ``LoginRequiredMiddleware``: views opt out only with ``@login_not_required``
    (telemetry ingest authenticates by monitor token, the DCC callback by signature, the
    API operations by their own schemes: ``dnoctl.api``).

    API clients get a JSON 401 instead of a redirect to the HTML login page, which a
    machine client would otherwise follow and misread as success. A browser opening the
    API docs asks for HTML first and is sent to log in, as on every page.
    """

    def handle_no_permission(self, request, view_func):
        if request.path.startswith("/api/") and not request.headers.get("Accept", "").startswith("text/html"):
            return error_reply(401, "authentication required")
        return super().handle_no_permission(request, view_func)
