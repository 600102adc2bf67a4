from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from core.views import healthz_web
from curtailment import feeder_urls
from dnoctl import alarm_views, views
from dnoctl.api import api_urls

# A body over DATA_UPLOAD_MAX_MEMORY_SIZE sent to an API is a JSON 413 (dnoctl.api_errors).
handler400 = "dnoctl.api_errors.bad_request"

urlpatterns = [
    path("", views.overview, name="overview"),
    path("overview/rows.json", views.overview_rows_json, name="overview_rows"),
    path("overview/network/", views.overview_network_html, name="overview_network"),
    path("alarms/", alarm_views.alarm_list, name="alarms"),
    path("alarms/list.json", alarm_views.alarm_list_json, name="alarms_json"),
    path("alarms/acknowledge/", alarm_views.alarm_acknowledge, name="alarms_acknowledge"),
    path("healthz", views.healthz, name="healthz"),
    path("healthz/web", healthz_web, name="healthz-web"),
    path("favicon.ico", views.favicon, name="favicon"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/v1/", api_urls()),  # telemetry, alerts, consent and reports (django-ninja)
    path("dcc/", include("dcc.urls")),
    # The feeder pages (curtailment's, they show events) and the overview's counters share
    # the feeders/ prefix and namespace.
    path(
        "feeders/",
        include(
            (
                [path("counters.json", views.overview_counters_json, name="counters"), *feeder_urls.urlpatterns],
                feeder_urls.app_name,
            )
        ),
    ),
    path("curtailment/", include("curtailment.urls")),
    path("reports/", include("reports.urls")),
    path("consent/", include("consent.urls")),
]
