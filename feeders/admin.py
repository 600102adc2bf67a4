from django.contrib import admin

from core.admin import AuditedAdmin
from feeders.models import Feeder, FeederAlert, FeederReading, MonitorToken, Substation


@admin.register(Substation)
class SubstationAdmin(AuditedAdmin):
    list_display = ["code", "name", "licence_area"]
    list_filter = ["licence_area"]
    search_fields = ["code", "name"]


@admin.register(Feeder)
class FeederAdmin(AuditedAdmin):
    list_display = [
        "code",
        "substation",
        "rating_amps",
        "at_risk_percent",
        "clear_percent",
        "high_risk",
        "automatic_curtailment",
        "status",
        "last_load_percent",
    ]
    list_filter = ["high_risk", "automatic_curtailment", "status", "substation__licence_area"]
    search_fields = ["code", "monitor_device_id"]
    raw_id_fields = ["substation"]
    # Written by ingest and detection; automatic mode is switched on the feeder's page,
    # whose service audits the reason and tells the operators.
    readonly_fields = ["status", "last_reading_at", "last_load_percent", "managed_since", "automatic_curtailment"]


@admin.register(MonitorToken)
class MonitorTokenAdmin(admin.ModelAdmin):
    list_display = ["name", "monitor_device_id", "active", "created_at"]
    readonly_fields = ["token_sha256"]


@admin.register(FeederReading)
class FeederReadingAdmin(admin.ModelAdmin):
    list_display = ["feeder", "measured_at", "amps_l1", "amps_l2", "amps_l3", "kw"]
    raw_id_fields = ["feeder"]
    show_full_result_count = False  # the table is huge: never count it


@admin.register(FeederAlert)
class FeederAlertAdmin(admin.ModelAdmin):
    list_display = ["feeder", "kind", "raised_at", "cleared_at", "load_percent"]
    list_filter = ["kind"]
    raw_id_fields = ["feeder", "acknowledged_by"]
