from django.contrib.auth.middleware import LoginRequiredMiddleware

from dnoctl.api_base import error_reply


class LoginRequiredEverywhereMiddleware(LoginRequiredMiddleware):
    """Views opt out only with ``@login_not_required``. API clients get a JSON 401, not a
    redirect a machine client would follow and misread as success."""

    def handle_no_permission(self, request, view_func):
        if request.path.startswith("/api/") and not request.headers.get("Accept", "").startswith("text/html"):
            return error_reply(401, "authentication required")
        return super().handle_no_permission(request, view_func)
