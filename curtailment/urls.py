"""Curtailment dashboard pages (mounted at ``/curtailment/``)."""

from django.urls import path

from curtailment import views

app_name = "curtailment"

urlpatterns = [
    path("events/", views.event_list, name="event_list"),
    path("events.csv", views.event_csv, name="event_csv"),
    path("events/<int:event_id>/", views.event_detail, name="event_detail"),
    path("events/<int:event_id>/live.json", views.event_live, name="event_live"),
    path("events/<int:event_id>/cancel/", views.event_cancel, name="event_cancel"),
    path("feeders/<int:feeder_id>/protection/", views.feeder_protection, name="feeder_protection"),
    path("feeders/<int:feeder_id>/event-chargers/", views.feeder_event_chargers, name="feeder_event_chargers"),
    path("compliance/", views.compliance, name="compliance"),
    path("compliance/live.json", views.compliance_live, name="compliance_live"),
    path("audit/", views.audit_list, name="audit"),
    path("audit.csv", views.audit_csv, name="audit_csv"),
]
