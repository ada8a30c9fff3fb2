from typing import TYPE_CHECKING, TypeAlias, TypedDict

from django.contrib import admin

from core.db.readable import as_stored_text
from integration.models import ArchiveFile, InboxEvent, RejectedEvent

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations


class InboxEventAsStored(TypedDict):
    occurred_at_as_stored: str
    data_as_stored: str


class RejectedEventAsStored(TypedDict):
    body_as_stored: str
    errors_as_stored: str


# The rows `StoredAsTextAdmin.get_queryset` reads (django-stubs-ext is a dev dependency).
InboxEventRow: TypeAlias = "WithAnnotations[InboxEvent, InboxEventAsStored]"
RejectedEventRow: TypeAlias = "WithAnnotations[RejectedEvent, RejectedEventAsStored]"


class ReadOnlyAdmin(admin.ModelAdmin):
    """Stored events are evidence: viewable, never edited or deleted by hand."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class StoredAsTextAdmin(ReadOnlyAdmin):
    """Shows the columns a sender controls as PostgreSQL prints them, never loading them
    into Python: a timestamp outside Python's years, JSON deeper than `json.loads`
    recurses or a number longer than Python parses would otherwise fail the page that
    must show it (core/db/readable.py)."""

    stored_as_text: list[str] = []

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .defer(*self.stored_as_text)
            .annotate(**{f"{name}_as_stored": as_stored_text(name) for name in self.stored_as_text})
        )


@admin.register(InboxEvent)
class InboxEventAdmin(StoredAsTextAdmin):
    stored_as_text = ["occurred_at", "data"]
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
    fields = [
        "source",
        "event_id",
        "event_type",
        "spec_version",
        "occurred_at_as_stored",
        "sequence",
        "data_as_stored",
        "received_at",
        "state",
        "waiting_for",
        "attempts",
        "last_error",
        "next_attempt_at",
        "processed_at",
    ]
    readonly_fields = ["occurred_at_as_stored", "data_as_stored"]

    @admin.display(description="occurred at (as stored)")
    def occurred_at_as_stored(self, event: InboxEventRow) -> str:
        return event.occurred_at_as_stored

    @admin.display(description="data (as stored)")
    def data_as_stored(self, event: InboxEventRow) -> str:
        return event.data_as_stored


@admin.register(RejectedEvent)
class RejectedEventAdmin(StoredAsTextAdmin):
    stored_as_text = ["body", "errors"]
    list_display = ["id", "source", "event_id", "event_type", "received_at", "replayed_at"]
    list_filter = ["source"]
    search_fields = ["event_id"]
    show_full_result_count = False
    fields = [
        "source",
        "event_id",
        "event_type",
        "body_as_stored",
        "errors_as_stored",
        "received_at",
        "replayed_at",
    ]
    readonly_fields = ["body_as_stored", "errors_as_stored"]

    @admin.display(description="body (as stored)")
    def body_as_stored(self, event: RejectedEventRow) -> str:
        return event.body_as_stored

    @admin.display(description="errors (as stored)")
    def errors_as_stored(self, event: RejectedEventRow) -> str:
        return event.errors_as_stored


@admin.register(ArchiveFile)
class ArchiveFileAdmin(ReadOnlyAdmin):
    """The archive's manifest. Read-only like the events; an operator who accepts the
    loss of a damaged file deletes its row (docs/OPERATIONS.md, "Archive and retention")."""

    list_display = ["name", "kind", "day", "source", "rows", "sha256", "written_at"]
    list_filter = ["kind", "source"]
    date_hierarchy = "day"

    def has_delete_permission(self, request, obj=None):
        return bool(request.user.is_superuser)
