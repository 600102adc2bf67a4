from django.apps import AppConfig


class FeedersConfig(AppConfig):
    name = "feeders"
    default_auto_field = "django.db.models.BigAutoField"
