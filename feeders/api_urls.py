"""Machine APIs under ``/api/v1/`` (token-authenticated, see ``feeders.api``)."""

from django.urls import path

from feeders import api

urlpatterns = [
    path("telemetry/", api.telemetry, name="api-telemetry"),
    path("alerts/", api.alerts, name="api-alerts"),
]
