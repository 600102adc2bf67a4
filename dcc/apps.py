from django.apps import AppConfig


class DccConfig(AppConfig):
    name = "dcc"
    verbose_name = "DCC"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from dcc import checks  # noqa: F401 - registers the configuration checks
