"""The change feed: what changed for an actor, in commit order, with no gaps.

Changes are recorded by database triggers (`visibility/change_triggers.py`) into
`visibility_change`, one row per (object, account whose view changed), in the writing
transaction; `visibility.services.changes.stamp_positions` numbers them after commit so
that positions become visible only in increasing order, and "after the last position I
read" never skips a change (the proof: docs/ARCHITECTURE.md, "The change feed").

Each change is answered with the object as it is *now* for the actor (JSON text written
by PostgreSQL, `visibility.feed_objects`, scoped by the selectors like any read), or a
tombstone when the actor no longer sees it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Max, Model, Q

from accounts.models import TokenScope
from accounts.scoping import Actor
from visibility import selectors
from visibility.feed_objects import OBJECTS_JSON, FeedShapes
from visibility.models import (
    ChangeFeedMarks,
    Document,
    Invoice,
    Order,
    Shipment,
    VisibilityChange,
)
from visibility.services.changes import stamp_positions

MAX_PAGE = 1000
DEFAULT_PAGE = 100
POSITION_MAX = 2**63 - 1
NOW = "now"

# Which token scope sees each kind (freight charges are part of the shipment, shown with
# the finance grant by the shipment's own serializer).
SCOPE_OF_KIND = {
    VisibilityChange.Kind.SHIPMENT: TokenScope.SHIPMENTS,
    VisibilityChange.Kind.ORDER: TokenScope.SHIPMENTS,
    VisibilityChange.Kind.INVOICE: TokenScope.INVOICES,
    VisibilityChange.Kind.DOCUMENT: TokenScope.DOCUMENTS,
}


class CursorExpired(Exception):
    """The cursor is below the pruned positions (retention): changes after it may be gone,
    so the client must take a new full copy and follow the feed from `after=now`."""

    def __init__(self, pruned_through: int) -> None:
        super().__init__(f"changes up to position {pruned_through} were pruned")
        self.pruned_through = pruned_through


@dataclass
class ChangeEntry:
    kind: str
    key: str
    position: int
    # The object as the actor now sees it, as JSON text in its REST detail's shape
    # (`visibility.feed_objects`); None for a tombstone, or when the page was read
    # without shapes.
    current: str | None = None
    # For a tombstone: the object no longer exists at all (else it left the actor's view).
    deleted: bool = False


@dataclass
class ChangePage:
    entries: list[ChangeEntry] = field(default_factory=list)
    next: int = 0


def latest_position() -> int:
    """The last position given so far (`after=now` starts there: a partner takes it
    before a full copy, then follows the feed from it)."""
    stamp_positions()
    return VisibilityChange.objects.aggregate(latest=Max("position"))["latest"] or 0


def _accounts_by_kind(actor: Actor) -> dict[str, list[int]]:
    by_scope = {
        scope: selectors.visible_accounts(actor, scope) for scope in set(SCOPE_OF_KIND.values())
    }
    return {kind: by_scope[scope] for kind, scope in SCOPE_OF_KIND.items()}


def change_page(
    actor: Actor,
    *,
    after: int = 0,
    limit: int = DEFAULT_PAGE,
    shapes: FeedShapes | None = None,
) -> ChangePage:
    """The changes the actor may see after position `after`, oldest first, at most
    `limit` rows of the feed; several changes of one object in the page are given once,
    at its latest position, with the object now in `shapes` (the API's) or its
    tombstone (without `shapes`: the positions only). `next` resumes after the page; a
    page with no changes means caught up for now (`next` is then `after`). Raises
    `CursorExpired` when `after` is below the pruned positions."""
    pruned_through = (
        ChangeFeedMarks.objects.filter(id=1).values_list("pruned_through", flat=True).first() or 0
    )
    if after < pruned_through:
        raise CursorExpired(pruned_through)
    stamp_positions()
    accounts = _accounts_by_kind(actor)
    visible = Q()
    for kind, account_ids in accounts.items():
        visible |= Q(kind=kind, customer_account_id__in=account_ids)
    rows = list(
        VisibilityChange.objects.filter(visible, position__gt=after)
        .order_by("position")
        .values_list("position", "kind", "object_key")[:limit]
    )
    latest: dict[tuple[str, str], int] = {}
    for position, kind, key in rows:
        assert position is not None  # filtered: position > after
        latest.pop((kind, key), None)  # re-inserted last: the dict keeps position order
        latest[(kind, key)] = position
    entries = [ChangeEntry(kind, key, position) for (kind, key), position in latest.items()]
    if shapes is not None:
        _attach_current(actor, entries, shapes)
    return ChangePage(entries=entries, next=(rows[-1][0] or after) if rows else after)


def _attach_current(actor: Actor, entries: list[ChangeEntry], shapes: FeedShapes) -> None:
    for kind, objects_json in OBJECTS_JSON.items():
        wanted = [entry for entry in entries if entry.kind == kind]
        if not wanted:
            continue
        current = objects_json(actor, {entry.key for entry in wanted}, shapes)
        missing = {entry.key for entry in wanted if entry.key not in current}
        existing = _existing_keys(kind, missing) if missing else set()
        for entry in wanted:
            entry.current = current.get(entry.key)
            entry.deleted = entry.current is None and entry.key not in existing


_MODELS: dict[str, tuple[type[Model], str]] = {
    VisibilityChange.Kind.SHIPMENT: (Shipment, "shipment_id"),
    VisibilityChange.Kind.ORDER: (Order, "order_number"),
    VisibilityChange.Kind.INVOICE: (Invoice, "invoice_number"),
    VisibilityChange.Kind.DOCUMENT: (Document, "document_id"),
}


def _existing_keys(kind: str, keys: set[str]) -> set[str]:
    """Which of the keys still exist, for anyone: an unscoped read that answers only
    "deleted or not" for objects the actor's feed already named."""
    model, key_field = _MODELS[kind]
    return set(
        model._default_manager.filter(**{f"{key_field}__any": keys}).values_list(
            key_field, flat=True
        )
    )
