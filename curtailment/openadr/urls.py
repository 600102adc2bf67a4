"""The VTN process's URLs: the OpenADR 3 API and a health check, nothing of the dashboard."""

from django.contrib.auth.decorators import login_not_required
from django.urls import path

from core.views import healthz_web
from curtailment.openadr.api import BASE_PATH, vtn_urls

urlpatterns = [
    path("healthz/vtn", login_not_required(healthz_web), name="healthz-vtn"),
    path(BASE_PATH, vtn_urls()),
]

# The project's error pages link the dashboard, which this process does not serve.
handler404 = "curtailment.openadr.api.not_found"
handler500 = "curtailment.openadr.api.server_error"
