"""Routes under ``/dcc/``: where the DCC delivers device responses and alerts."""

from django.urls import path

from curtailment import dcc_views

app_name = "dcc"

urlpatterns = [
    path("responses/", dcc_views.dcc_responses, name="responses"),
]
