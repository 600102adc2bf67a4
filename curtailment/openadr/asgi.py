"""The VTN's own process: the OpenADR 3 API that providers' VENs talk to, on its own port.

It is kept apart from the ``web`` process because it faces other parties (the aggregators,
over the internet or an extranet), not the control room: it serves only
``curtailment.openadr.urls``, so the dashboard is not reachable through it and the VTN is
not reachable through the dashboard's port; each can be exposed, scaled and restarted on
its own. Run with ``uvicorn curtailment.openadr.asgi:application`` (``Procfile``: ``vtn``).
"""

import os

from django.core.asgi import get_asgi_application
from django.core.handlers.asgi import ASGIHandler

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dnoctl.settings")
get_asgi_application()  # sets Django up

URLCONF = "curtailment.openadr.urls"


class VtnHandler(ASGIHandler):
    """Django's ASGI handler, resolving every request with the VTN's URLconf only."""

    def resolve_request(self, request):
        request.urlconf = URLCONF
        return super().resolve_request(request)


application = VtnHandler()
