from django.contrib import admin

from integration.models import InboxEvent, RejectedEvent


class ReadOnlyAdmin(admin.ModelAdmin):
    """Stored events are evidence: viewable, never edited or deleted by hand."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(InboxEvent)
class InboxEventAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "source",
        "event_id",
        "event_type",
        "state",
        "waiting_for",
        "attempts",
        "received_at",
    ]
    list_filter = ["state", "source", "event_type"]
    search_fields = ["event_id", "waiting_for"]
    show_full_result_count = False


@admin.register(RejectedEvent)
class RejectedEventAdmin(ReadOnlyAdmin):
    list_display = ["id", "source", "event_id", "event_type", "received_at", "replayed_at"]
    list_filter = ["source"]
    search_fields = ["event_id"]
    show_full_result_count = False
