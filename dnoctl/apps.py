from django.apps import AppConfig


class DnoctlConfig(AppConfig):
    """The project above every app; no app imports it except its platform modules."""

    name = "dnoctl"
    default_auto_field = "django.db.models.BigAutoField"
