from django.urls import path

from reports import views as report_views

app_name = "reports"

urlpatterns = [
    path("", report_views.reports_page, name="page"),
    path("exports/", report_views.export_create_page, name="export_create"),
]
