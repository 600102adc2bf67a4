"""The reports API (at ``/api/v1/reports/``)."""

from django.urls import path

from curtailment import report_views

app_name = "reports_api"

urlpatterns = [
    path("summary", report_views.api_summary, name="summary"),
    path("exports/", report_views.api_export_create, name="export_create"),
    path("exports/<str:export_id>/", report_views.api_export_status, name="export_status"),
    path("exports/<str:export_id>/download", report_views.api_export_download, name="export_download"),
]
