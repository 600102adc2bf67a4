from django.urls import path

from consent import views

app_name = "consent"

urlpatterns = [
    path("", views.premise_list, name="premise_list"),
    path("premises/", views.premise_list, name="premises"),
    path("premises/<int:premise_id>/", views.premise_detail, name="premise_detail"),
    path("premises/<int:premise_id>/consent/<str:action>/", views.consent_action, name="consent_action"),
    path("premises/<int:premise_id>/tenancy/", views.tenancy_change, name="tenancy_change"),
    path("hcalcs/<int:hcalcs_id>/boost-details/", views.boost_details, name="boost_details"),
    path("awaiting/", views.awaiting_consent, name="awaiting"),
    path("consents/<int:consent_id>/resend-request/", views.consent_request_resend, name="consent_request_resend"),
    path("notifications/failed/", views.notifications_failed, name="notifications_failed"),
    path("notifications/<int:notification_id>/retry/", views.notification_retry, name="notification_retry"),
    path("import/", views.import_upload, name="import_upload"),
    path("import/<str:job_id>/", views.import_job, name="import_job"),
    path("tenancy-feed/", views.tenancy_feed_upload, name="tenancy_feed"),
]
