from django.contrib import admin

from visibility.models import Invoice, Order, Shipment, StatusCodeMapping


@admin.register(StatusCodeMapping)
class StatusCodeMappingAdmin(admin.ModelAdmin):
    """Platform admins add or change X12 214 mappings; new events use them at once."""

    list_display = ["code", "description", "action", "milestone"]
    list_editable = ["action", "milestone"]
    search_fields = ["code", "description"]


@admin.register(Shipment)
class ShipmentAdmin(admin.ModelAdmin):
    """Read models are built from events; the admin only looks."""

    list_display = ["shipment_id", "customer_account", "status", "eta", "last_event_at"]
    list_filter = ["status"]
    search_fields = ["shipment_id", "load_id"]
    show_full_result_count = False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = ["order_number", "customer_account", "customer_po", "status"]
    search_fields = ["order_number", "customer_po"]
    show_full_result_count = False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Invoice)
class InvoiceAdmin(admin.ModelAdmin):
    list_display = ["invoice_number", "customer_account", "total_amount", "currency", "due_date"]
    search_fields = ["invoice_number"]
    show_full_result_count = False

    def has_change_permission(self, request, obj=None):
        return False
