from django.apps import AppConfig


class DnoctlConfig(AppConfig):
    """The project above every app: settings, URLs, the dashboard's cross-app pages and the
    demo and simulator commands. No app imports it, except its platform modules (see
    docs/architecture.md)."""

    name = "dnoctl"
    default_auto_field = "django.db.models.BigAutoField"
