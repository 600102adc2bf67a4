from django.contrib import admin

from curtailment.models import AspCallOff, AspContract, AuditEntry, CurtailmentAction, CurtailmentEvent
from dnoctl.admin import AuditedAdmin, ReadOnlyAdmin


@admin.register(CurtailmentEvent)
class CurtailmentEventAdmin(admin.ModelAdmin):
    list_display = ["id", "feeder", "trigger", "status", "started_at", "ended_at", "required_reduction_kw"]
    list_filter = ["trigger", "status"]
    raw_id_fields = ["feeder", "alert", "requested_by"]


@admin.register(CurtailmentAction)
class CurtailmentActionAdmin(admin.ModelAdmin):
    list_display = ["id", "event", "hcalcs", "status", "planned_minutes", "started_at", "ended_at", "end_reason"]
    list_filter = ["status", "end_reason"]
    raw_id_fields = ["event", "hcalcs", "mpan"]


@admin.register(AspContract)
class AspContractAdmin(AuditedAdmin):
    list_display = ["reference", "provider", "starts_at", "ends_at", "available_kw", "active"]
    filter_horizontal = ["feeders"]


@admin.register(AspCallOff)
class AspCallOffAdmin(ReadOnlyAdmin):
    list_display = ["contract", "event", "kw", "called_at", "status"]


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    list_display = ["at", "actor", "action", "target_type", "target_id"]
    list_filter = ["action"]
    search_fields = ["target_id", "actor"]
