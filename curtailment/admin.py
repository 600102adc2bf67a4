from django.contrib import admin

from core.admin import AuditedAdmin, ReadOnlyAdmin
from curtailment.models import (
    AspCallOff,
    AspContract,
    AspReport,
    AspVen,
    CurtailmentAction,
    CurtailmentEvent,
)


@admin.register(CurtailmentEvent)
class CurtailmentEventAdmin(admin.ModelAdmin):
    list_display = ["id", "feeder", "trigger", "status", "started_at", "ended_at", "required_reduction_kw"]
    list_filter = ["trigger", "status"]
    raw_id_fields = ["feeder", "alert", "requested_by"]


@admin.register(CurtailmentAction)
class CurtailmentActionAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "event",
        "hcalcs",
        "kind",
        "level_percent",
        "status",
        "planned_minutes",
        "started_at",
        "ended_at",
        "end_reason",
    ]
    list_filter = ["kind", "status", "end_reason"]
    raw_id_fields = ["event", "hcalcs", "mpan", "lift_request"]


@admin.register(AspContract)
class AspContractAdmin(AuditedAdmin):
    list_display = ["reference", "provider", "ven", "starts_at", "ends_at", "available_kw", "active"]
    filter_horizontal = ["feeders"]


@admin.register(AspVen)
class AspVenAdmin(AuditedAdmin):
    """VENs are registered with ``asp_ven_register`` (secret shown once); here renamed or switched off."""

    list_display = ["ven_name", "provider", "client_id", "active", "created_at"]
    fields = ["ven_name", "provider", "client_id", "active"]
    readonly_fields = ["ven_name", "client_id"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(AspReport)
class AspReportAdmin(ReadOnlyAdmin):
    list_display = ["received_at", "calloff", "ven", "delivered_kw"]


@admin.register(AspCallOff)
class AspCallOffAdmin(ReadOnlyAdmin):
    list_display = ["contract", "event", "kw", "confirmed_kw", "counted_kw", "called_at", "confirm_by", "status"]
