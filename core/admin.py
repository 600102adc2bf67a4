"""Admin bases shared by the apps, and the audit trail's admin (the engineers' tool, see ``core.roles``)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db import models

from core.audit import audit_record, json_plain
from core.models import AuditEntry


class ReadOnlyAdmin(admin.ModelAdmin):
    """For append-only history and service-written rows: never editable, superusers included."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class AuditedAdmin(admin.ModelAdmin):
    """Audits every admin add, change and delete (invariant 6), with each changed field before and after."""

    def save_related(self, request, form, formsets, change):
        # After save_model and the many-to-many fields: the row is complete here.
        super().save_related(request, form, formsets, change)
        if change and not form.changed_data:
            return
        fields = {
            name: {
                "before": json_plain(form.initial.get(name)) if change else None,
                "after": json_plain(form.cleaned_data.get(name)),
            }
            for name in form.changed_data
        }
        self._audit(request, form.instance, "admin.change" if change else "admin.add", {"fields": fields}, fields)

    def delete_model(self, request, obj):
        self._audit(request, obj, "admin.delete", {"row": str(obj)})
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self._audit(request, obj, "admin.delete", {"row": str(obj)})
        super().delete_queryset(request, queryset)

    @staticmethod
    def _audit(request, obj: models.Model, action: str, inputs: dict[str, Any], changes=None) -> None:
        audit_record(
            action=action,
            actor_user=request.user,
            target=obj,
            reason="edited in the admin",
            inputs=inputs,
            changes=changes,
        )


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    list_display = ["at", "actor", "action", "target_type", "target_id"]
    list_filter = ["action"]
    search_fields = ["target_id", "actor"]
