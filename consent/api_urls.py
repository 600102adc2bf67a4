"""``/api/v1/consent/``: the consent API for the DNO's customer systems (docs/consent-api.md)."""

from django.urls import path

from consent import api

app_name = "consent_api"

urlpatterns = [
    path("premises/<str:reference>/", api.premise_detail, name="premise"),
    path("premises/<str:reference>/consent/grant/", api.consent_grant, name="grant"),
    path("premises/<str:reference>/consent/decline/", api.consent_decline, name="decline"),
    path("premises/<str:reference>/consent/withdraw/", api.consent_withdraw, name="withdraw"),
    path("premises/<str:reference>/consent/override/", api.consent_override, name="override"),
    path("premises/<str:reference>/consent/preferences/", api.consent_preferences, name="preferences"),
    path("premises/<str:reference>/tenancy/", api.tenancy_change, name="tenancy"),
    path("awaiting-consent/", api.awaiting_consent, name="awaiting"),
    path("tenancy-feed/", api.tenancy_feed, name="tenancy_feed"),
    path("half-hours/", api.half_hours, name="half_hours"),
    path("imports/<str:job_id>/", api.import_progress, name="import_progress"),
]
