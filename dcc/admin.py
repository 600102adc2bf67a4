from django.contrib import admin

from core.admin import ReadOnlyAdmin
from dcc.models import DccRequestCounter, InboundDocument, ServiceRequest, ServiceRequestTransition


@admin.register(ServiceRequest)
class ServiceRequestAdmin(ReadOnlyAdmin):
    list_display = ["request_id", "srv", "command_variant", "state", "ack_code", "response_code", "created_at"]
    list_filter = ["srv", "state"]
    search_fields = ["request_id", "target_eui64"]


@admin.register(ServiceRequestTransition)
class ServiceRequestTransitionAdmin(ReadOnlyAdmin):
    list_display = ["service_request", "at", "from_state", "to_state"]


@admin.register(DccRequestCounter)
class DccRequestCounterAdmin(ReadOnlyAdmin):
    list_display = ["originator_eui64", "value"]


@admin.register(InboundDocument)
class InboundDocumentAdmin(ReadOnlyAdmin):
    list_display = ["received_at", "kind", "code", "outcome", "request_id", "detail"]
    list_filter = ["kind", "outcome"]
    search_fields = ["request_id", "response_id"]
