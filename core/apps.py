from django.apps import AppConfig


class CoreConfig(AppConfig):
    """The bottom layer: the audit trail, append-only rows, roles, pushes and time helpers
    that every other app uses. It imports no other app of the project."""

    name = "core"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # A task's audit entries carry its id, as a request's carry the request's.
        from celery.signals import task_postrun, task_prerun

        from core.request_id import task_request_id_bind, task_request_id_unbind

        task_prerun.connect(task_request_id_bind, weak=False, dispatch_uid="core.request_id.bind")
        task_postrun.connect(task_request_id_unbind, weak=False, dispatch_uid="core.request_id.unbind")
