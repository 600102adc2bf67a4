"""Routes under ``/dcc/``: where the DCC delivers device responses and alerts."""

from django.urls import path

from dcc import views

app_name = "dcc"

urlpatterns = [
    path("responses/", views.dcc_responses, name="responses"),
]
