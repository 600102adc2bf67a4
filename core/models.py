from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models

from core.choices import action_current


class AppendOnlyModel(models.Model):
    """Written once, never changed or deleted; database triggers also refuse bulk updates and deletes."""

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if self.pk is not None and not self._state.adding:
            raise ValidationError(f"{type(self).__name__} is append-only: rows cannot be changed")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValidationError(f"{type(self).__name__} is append-only: rows cannot be deleted")


class AuditEntry(AppendOnlyModel):
    """Append-only audit trail (invariant 6): who or what did what, why, in which request or
    task. Holds MPANs and device ids at most, never names or contact details."""

    at = models.DateTimeField(db_index=True)
    actor_user = models.ForeignKey("auth.User", null=True, blank=True, on_delete=models.PROTECT)
    actor = models.CharField(max_length=100, help_text="User name, or 'rule:<name>' for automatic decisions")
    action = models.CharField(max_length=64, db_index=True)
    target_type = models.CharField(max_length=64, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    reason = models.TextField(blank=True)
    inputs = models.JSONField(default=dict, blank=True)
    request_id = models.CharField(
        max_length=64, null=True, blank=True, db_index=True, help_text="The HTTP request or Celery task that wrote it"
    )
    changes = models.JSONField(null=True, blank=True, help_text="The changed record's fields: {field: {before, after}}")

    class Meta:
        ordering = ["-at", "-id"]
        # The table keeps the name it had when the model lived in curtailment (migrated
        # state-only, so its rows and its append-only trigger stay).
        db_table = "curtailment_auditentry"
        verbose_name_plural = "audit entries"
        indexes = [models.Index(fields=["target_type", "target_id"], name="audit_target")]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.actor} {self.action_name}"

    @property
    def action_name(self) -> str:
        return action_current(self.action)
