from django.apps import AppConfig


class CoreConfig(AppConfig):
    """The bottom layer: the audit trail, append-only rows, roles, pushes and time helpers
    that every other app uses. It imports no other app of the project."""

    name = "core"
    default_auto_field = "django.db.models.BigAutoField"
