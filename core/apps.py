from django.apps import AppConfig, apps
from django.db.models.signals import post_migrate

from core.roles import roles_ensure


def _ensure_roles(sender, **kwargs) -> None:
    """Roles need every app's permissions, which exist only after the last app's post_migrate."""
    with_models = [config for config in apps.get_app_configs() if config.models_module is not None]
    if sender is with_models[-1]:
        roles_ensure()


class CoreConfig(AppConfig):
    """The bottom layer every app uses; it imports no other app of the project."""

    name = "core"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        post_migrate.connect(_ensure_roles, dispatch_uid="core.roles")
        # A task's audit entries carry its id, as a request's carry the request's.
        from celery.signals import task_postrun, task_prerun

        from core.request_id import task_request_id_bind, task_request_id_unbind

        task_prerun.connect(task_request_id_bind, weak=False, dispatch_uid="core.request_id.bind")
        task_postrun.connect(task_request_id_unbind, weak=False, dispatch_uid="core.request_id.unbind")
