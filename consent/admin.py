from django.contrib import admin

from consent.models import (
    HCALCS,
    MPAN,
    Consent,
    ConsentChange,
    Customer,
    HalfHourlyConsumption,
    Meter,
    Notification,
    Premise,
    Tenancy,
)
from core.admin import ReadOnlyAdmin


@admin.register(Premise)
class PremiseAdmin(admin.ModelAdmin):
    list_display = ["reference", "postcode", "domestic", "feeder"]
    list_filter = ["domestic"]
    search_fields = ["reference", "postcode"]
    raw_id_fields = ["feeder"]


@admin.register(Meter)
class MeterAdmin(admin.ModelAdmin):
    list_display = [
        "esme_eui64",
        "premise",
        "element_type",
        "comms_hub_type",
        "firmware_version",
        "supports_eno_use_cases",
    ]
    list_filter = ["element_type", "comms_hub_type", "supports_eno_use_cases"]
    search_fields = ["esme_eui64"]
    raw_id_fields = ["premise"]


@admin.register(MPAN)
class MpanAdmin(admin.ModelAdmin):
    list_display = ["core", "meter", "role"]
    search_fields = ["core"]
    raw_id_fields = ["meter"]


@admin.register(HCALCS)
class HcalcsAdmin(admin.ModelAdmin):
    list_display = ["eui64", "meter", "switch_index", "controller_type", "label", "rated_kw", "on_boost_button"]
    list_filter = ["controller_type", "label", "on_boost_button"]
    search_fields = ["eui64"]
    raw_id_fields = ["meter"]


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ["id", "external_ref", "created_at"]
    search_fields = ["external_ref"]


@admin.register(Tenancy)
class TenancyAdmin(admin.ModelAdmin):
    list_display = ["premise", "customer", "start", "end"]
    raw_id_fields = ["premise", "customer"]


@admin.register(Consent)
class ConsentAdmin(admin.ModelAdmin):
    list_display = ["tenancy", "status", "override_allowed", "notification_channel", "notification_frequency"]
    list_filter = ["status", "override_allowed", "notification_channel"]
    raw_id_fields = ["tenancy"]


@admin.register(ConsentChange)
class ConsentChangeAdmin(ReadOnlyAdmin):
    list_display = ["consent", "at", "from_status", "to_status", "actor"]


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["customer", "kind", "channel", "status", "attempts", "due_at", "sent_at"]
    list_filter = ["status", "kind", "channel"]
    raw_id_fields = ["customer", "premise", "event"]


@admin.register(HalfHourlyConsumption)
class HalfHourlyAdmin(admin.ModelAdmin):
    list_display = ["mpan", "period_start", "kwh"]
    raw_id_fields = ["mpan"]
    show_full_result_count = False
