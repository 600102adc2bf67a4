"""django-axes' tables in the admin, where an engineer unlocks a login (audited)."""

from __future__ import annotations

from axes.admin import AccessAttemptAdmin, AccessLogAdmin
from axes.models import AccessAttempt, AccessLog
from django.contrib import admin, messages

from accounts.lockout import login_unlock_audit


@admin.register(AccessAttempt)
class AuditedAccessAttemptAdmin(AccessAttemptAdmin):
    actions = ["unlock", "cleanup_expired_attempts"]

    def has_change_permission(self, request, obj=None):
        return False  # what axes counted is evidence: cleared whole, never edited

    @admin.action(description="Unlock: clear the failed logins of the selected (audited)", permissions=["delete"])
    def unlock(self, request, queryset):
        count = len(queryset)
        self.delete_queryset(request, queryset)
        self.message_user(request, f"Unlocked {count} login(s).", messages.SUCCESS)

    def delete_model(self, request, obj):
        login_unlock_audit(attempt=obj, unlocked_by=request.user, how="in the admin")
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        for attempt in queryset:
            login_unlock_audit(attempt=attempt, unlocked_by=request.user, how="in the admin")
        super().delete_queryset(request, queryset)


@admin.register(AccessLog)
class ReadOnlyAccessLogAdmin(AccessLogAdmin):
    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
