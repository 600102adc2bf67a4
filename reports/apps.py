from django.apps import AppConfig


class ReportsConfig(AppConfig):
    """The top layer: the Ofgem reports read every app below and nothing imports them."""

    name = "reports"
    default_auto_field = "django.db.models.BigAutoField"
