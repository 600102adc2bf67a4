from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _reading_partitions_after_migrate(sender, using, **kwargs):
    """Every migrate leaves the reading partitions of the retention window ready, so a
    deployment that was down longer than the partitions made ahead never inserts into the
    default partition for lack of one."""
    from django.db import connections
    from django.utils import timezone

    from feeders.services.retention import readings_partitions_maintain

    # The maintenance works on the default database, the only one the project has.
    if using == "default" and connections[using].vendor == "postgresql":
        readings_partitions_maintain(now=timezone.now())


class FeedersConfig(AppConfig):
    name = "feeders"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        post_migrate.connect(_reading_partitions_after_migrate, sender=self)
