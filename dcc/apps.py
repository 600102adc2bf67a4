from django.apps import AppConfig


class DccConfig(AppConfig):
    name = "dcc"
    verbose_name = "DCC"
    default_auto_field = "django.db.models.BigAutoField"
