"""A shipment's parts read as rows (`values()`), for many shipments in one query each:
what the REST list's `expand=` (visibility/api/views.py) and GraphQL's shipment connection
(portal/graphql/nodes.py) carry. Model instances and DRF's field machinery cost ~1 ms an
object at a page of 1,000 (docs/BENCHMARKS.md); rows are shaped as the REST details by
visibility/api/rows.py. Every read is scoped as the selectors scope it."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Any

import orjson
from django.db.models import F, Model, TextField
from django.db.models.functions import Cast

from accounts.scoping import Actor
from visibility import selectors
from visibility.models import ShipmentEvent, ShipmentStop

Row = dict[str, Any]

HISTORY_COLUMNS = (
    "shipment_id",
    "kind",
    "milestone",
    "carrier_status_code",
    "occurred_at",
    "location",
    "stop_sequence",
    "remarks",
    "received_by",
    "eta",
    "eta_window_start",
    "eta_window_end",
    "eta_basis",
    "reason_code",
    "reason_text",
)
CHARGE_COLUMNS = ("shipment_id", "charge_id", "charge_type", "amount", "currency", "occurred_at")
ORDER_LINK_COLUMNS = ("shipment_id", "line_numbers")
STOP_COLUMNS = ("shipment_id", "sequence", "stop_type", "location", "planned_arrival")
DOCUMENT_COLUMNS = (
    "shipment_id",
    "document_id",
    "document_type",
    "filename",
    "content_type",
    "size",
    "sha256",
    "occurred_at",
)


def grouped(rows: Iterable[Any], key: str) -> dict[Any, list[Row]]:
    groups: dict[Any, list[Row]] = {}
    for row in rows:
        groups.setdefault(row[key], []).append(row)
    return groups


def instances_by_shipment(instances: Iterable[Any]) -> dict[int, list[Any]]:
    """Model instances of a shipment's part (a document, an exception) by shipment id."""
    groups: dict[int, list[Any]] = {}
    for instance in instances:
        groups.setdefault(instance.shipment_id, []).append(instance)
    return groups


def history_rows(ids: list[int], *, milestones_only: bool = False) -> dict[int, list[Row]]:
    """Each shipment's history facts, oldest first. The location (JSON) is read as text
    and parsed by orjson: a list page of 100 with `expand` holds ~1,000 facts, and the
    standard library's parser through Django's JSONField took ~5 us each."""
    facts = ShipmentEvent.objects.filter(shipment_id__any=ids)
    if milestones_only:
        facts = facts.filter(kind=ShipmentEvent.Kind.MILESTONE)
    rows = facts.order_by("shipment_id", "occurred_at", "id").values(
        *(name for name in HISTORY_COLUMNS if name != "location"),
        location_text=Cast("location", TextField()),
    )
    groups: dict[int, list[Row]] = {}
    for row in rows:
        text = row.pop("location_text")
        row["location"] = None if text is None else orjson.loads(text)
        groups.setdefault(row["shipment_id"], []).append(row)
    return groups


def order_link_rows(actor: Actor, ids: list[int]) -> dict[int, list[Row]]:
    """The actor's orders on each shipment (a consolidated shipment also carries others'),
    by order number: `order_number`, `customer_po`, `line_numbers`."""
    return grouped(
        selectors.order_links_of_shipments(actor, ids).values(
            *ORDER_LINK_COLUMNS,
            order_number=F("order__order_number"),
            customer_po=F("order__customer_po"),
        ),
        "shipment_id",
    )


def row_of(instance: Model, columns: Iterable[str]) -> Row:
    """A model instance already read, as the row `values(*columns)` would give: for a
    detail, whose parts its selector prefetched as instances."""
    return {name: getattr(instance, name) for name in columns}


def charge_rows(actor: Actor, ids: list[int]) -> dict[int, list[Row]]:
    """The charges the actor may see (the finance grant), oldest first."""
    return grouped(
        selectors.charges_of_shipments(actor, ids).values(*CHARGE_COLUMNS), "shipment_id"
    )


def stop_rows(ids: list[int]) -> dict[int, list[Row]]:
    return grouped(
        ShipmentStop.objects.filter(shipment_id__any=ids)
        .order_by("shipment_id", "sequence")
        .values(*STOP_COLUMNS),
        "shipment_id",
    )


def document_rows(actor: Actor, ids: list[int]) -> dict[int, list[Row]]:
    return grouped(
        selectors.documents_of_shipments(actor, ids).values(*DOCUMENT_COLUMNS), "shipment_id"
    )


def expansion_rows(
    actor: Actor, ids: list[int], expand: Collection[str]
) -> dict[str, dict[int, list[Row]]]:
    """What a list page expands (selectors.SHIPMENT_EXPANSIONS), by expansion and
    shipment id: one query per expansion (the history once for milestones and ETAs)."""
    parts: dict[str, dict[int, list[Row]]] = {}
    if {"milestones", "eta_history"} & set(expand):
        parts["history"] = history_rows(ids, milestones_only="eta_history" not in expand)
    if "stops" in expand:
        parts["stops"] = stop_rows(ids)
    if "charges" in expand:
        parts["charges"] = charge_rows(actor, ids)
    if "documents" in expand:
        parts["documents"] = document_rows(actor, ids)
    return parts
