"""The feeder page and its controls (mounted at ``/feeders/``, URL names ``feeders:...``)."""

from django.urls import path

from curtailment import feeder_views as views

app_name = "feeders"

urlpatterns = [
    path("<int:feeder_id>/", views.feeder_detail, name="feeder_detail"),
    path("<int:feeder_id>/chart.json", views.feeder_chart_json, name="feeder_chart"),
    path("<int:feeder_id>/curtail/", views.feeder_curtail, name="feeder_curtail"),
    path("<int:feeder_id>/cancel/", views.feeder_cancel_event, name="feeder_cancel"),
    path("<int:feeder_id>/automatic/", views.feeder_automatic, name="feeder_automatic"),
    path("<int:feeder_id>/acknowledge/", views.feeder_alert_acknowledge, name="feeder_acknowledge"),
]
