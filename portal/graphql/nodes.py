"""What `ShipmentType` resolves from: a shipment as a row (a dict), with the nested lists
the query selects attached to it as rows too.

A page of the `shipments` connection is read as rows (`selectors.as_rows`) and each
nested list with one query for the whole page (visibility/rows.py, scoped as the
selectors scope it). Building model instances and resolving through strawberry-django's
fields was most of a page's CPU time (~1,800 instances and ~3,500 fields for 100
shipments: docs/BENCHMARKS.md, issue #17); the types read dict keys instead
(`schema.field_value`). A detail, or an order's shipments, come from their selectors as
model instances with their parts prefetched: `shipment_node` turns each into the same
row, so ShipmentType has one source shape.
"""

from __future__ import annotations

from collections.abc import Collection
from types import SimpleNamespace
from typing import Any

from accounts.scoping import Actor
from portal.graphql.selection import Tree, shipment_parts
from visibility import models, rows, selectors
from visibility.api.rows import labels
from visibility.flags import FLAG_FIELDS, shipment_flags, slip_in_words

ShipmentNode = dict[str, Any]

STATUS_LABELS = labels(models.Shipment, "status")
MILESTONE = models.ShipmentEvent.Kind.MILESTONE

# The shipment columns ShipmentType shows as they are, in its order.
SHIPMENT_FIELDS = (
    "shipment_id",
    "load_id",
    "status",
    "status_at",
    "carrier_scac",
    "carrier_name",
    "mode",
    "service_level",
    "tracking_numbers",
    "origin",
    "destination",
    "planned_pickup_at",
    "planned_delivery_at",
    "eta",
    "eta_window_start",
    "eta_window_end",
    "eta_basis",
    "promised_date",
    "delayed",
    "at_risk",
    "overdue",
    "late_by_hours",
    "tracking_stale",
    "pod_missing",
    "not_invoiced",
    "last_heard_at",
    "last_heard_source",
    "delivered_at",
    "received_by",
    "last_event_at",
)
# A node's columns: those and the flags' (`flags`), the id its parts are found by, and
# the account the list's selector annotates (the first of the caller's, by number).
SHIPMENT_COLUMNS = (
    "id",
    *SHIPMENT_FIELDS,
    *(name for name in FLAG_FIELDS if name not in SHIPMENT_FIELDS),
)
SHIPMENT_NODE_COLUMNS = (*SHIPMENT_COLUMNS, "account_number")

# The nested lists a node carries, by shipment part (selectors.SHIPMENT_PARTS).
HISTORY, ORDERS, CHARGES, STOPS, DOCUMENTS, EXCEPTIONS = (
    "history",
    "orders",
    "charges",
    "stops",
    "documents",
    "exceptions",
)


def listed_shipment_nodes(
    actor: Actor, page: list[rows.Row], selection: Tree
) -> list[ShipmentNode]:
    """The rows of a page (`SHIPMENT_NODE_COLUMNS`) with the nested lists `selection`
    (under `node`) asks for, each read once for the whole page."""
    ids = [row["id"] for row in page]
    parts = shipment_parts(selection, annotated_account=True)
    found: dict[str, dict[int, list[Any]]] = {}
    if ids and HISTORY in parts:
        found[HISTORY] = rows.history_rows(ids, milestones_only="etaHistory" not in selection)
    if ids and ORDERS in parts:
        found[ORDERS] = rows.order_link_rows(actor, ids)
    if ids and CHARGES in parts:
        found[CHARGES] = rows.charge_rows(actor, ids)
    if ids and STOPS in parts:
        found[STOPS] = rows.stop_rows(ids)
    if ids and DOCUMENTS in parts:
        found[DOCUMENTS] = rows.instances_by_shipment(selectors.documents_of_shipments(actor, ids))
    if ids and EXCEPTIONS in parts:
        found[EXCEPTIONS] = rows.instances_by_shipment(
            selectors.open_exceptions_of_shipments(actor, ids)
        )
    for row in page:
        for part, by_shipment in found.items():
            row[part] = by_shipment.get(row["id"], [])
        shaped(row)
    return page


def shaped(node: ShipmentNode) -> ShipmentNode:
    """ShipmentType's computed fields and nested lists (those read) under its field names,
    so that they resolve as plain fields, without a resolver call per node and field."""
    node["customer_account"] = str(node["account_number"] or "")
    node["status_label"] = STATUS_LABELS[node["status"]]
    node["late_by"] = slip_in_words(node["late_by_hours"])
    node["flags"] = shipment_flags(SimpleNamespace(**{name: node[name] for name in FLAG_FIELDS}))
    history = node.get(HISTORY)
    if history is not None:
        node["milestones"] = [fact for fact in history if fact["kind"] == MILESTONE]
        node["eta_history"] = [
            fact
            for fact in history
            if selectors.is_eta_update(fact["kind"], fact["eta"], fact["eta_window_start"])
        ]
    if CHARGES in node:
        node["freight_charges"] = [
            {**charge, "amount": str(charge["amount"])} for charge in node[CHARGES]
        ]
    return node


def shipment_node(actor: Actor, shipment: models.Shipment, parts: Collection[str]) -> ShipmentNode:
    """A shipment read by a selector with `parts` prefetched (a detail, an order's
    shipments), as the row `listed_shipment_nodes` gives."""
    node = rows.row_of(shipment, SHIPMENT_COLUMNS)
    node["account_number"] = selectors.account_number_of_shipment(shipment)
    if HISTORY in parts:
        node[HISTORY] = [
            rows.row_of(fact, rows.HISTORY_COLUMNS) for fact in selectors.history_of(shipment)
        ]
    if ORDERS in parts:
        node[ORDERS] = [
            {
                "order_number": link.order.order_number,
                "customer_po": link.order.customer_po,
                "line_numbers": link.line_numbers,
            }
            for link in selectors.order_links_of_shipment(actor, shipment)
        ]
    if CHARGES in parts:
        node[CHARGES] = [
            rows.row_of(charge, rows.CHARGE_COLUMNS)
            for charge in selectors.charges_of_shipment(actor, shipment)
        ]
    if STOPS in parts:
        node[STOPS] = [
            rows.row_of(stop, rows.STOP_COLUMNS) for stop in selectors.stops_of_shipment(shipment)
        ]
    if DOCUMENTS in parts:
        node[DOCUMENTS] = selectors.documents_of_shipment(actor, shipment)
    if EXCEPTIONS in parts:
        node[EXCEPTIONS] = selectors.open_exceptions_of_shipment(actor, shipment)
    return shaped(node)
