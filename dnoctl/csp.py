"""The Content-Security-Policy (django-csp): the browser runs, styles and fetches only what
the application serves itself.

The policy is in ``settings.CONTENT_SECURITY_POLICY``: everything from our own origin, no
inline script or style (templates carry none: scripts are ES modules in ``static/js/``,
bars are SVG whose sizes are attributes), nothing framed, no plugins, forms posting only
to us. This middleware adds what depends on the request: the page's own host over
WebSocket, which ``'self'`` covers in current browsers but not in every one still in
control rooms.
"""

from __future__ import annotations

from csp.middleware import CSPMiddleware, PolicyParts
from django.core.exceptions import DisallowedHost
from django.http import HttpRequest, HttpResponseBase


def websocket_origin(request: HttpRequest) -> str | None:
    """``ws(s)://<host>`` of the request, or None when its host is not one we serve."""
    try:
        host = request.get_host()
    except DisallowedHost:
        return None
    return f"{'wss' if request.is_secure() else 'ws'}://{host}"


class DashboardCSPMiddleware(CSPMiddleware):
    """django-csp's middleware, with the page's own WebSocket origin in ``connect-src``."""

    def get_policy_parts(
        self, request: HttpRequest, response: HttpResponseBase, report_only: bool = False
    ) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        origin = websocket_origin(request)
        if not report_only and origin is not None:
            update = dict(parts.update or {})
            update["connect-src"] = [*update.get("connect-src", ()), origin]
            parts.update = update
        return parts
