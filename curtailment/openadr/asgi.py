"""The VTN's own process: it faces other parties (the aggregators), not the control room, so it serves
only ``curtailment.openadr.urls`` and can be exposed, scaled and restarted on its own."""

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
