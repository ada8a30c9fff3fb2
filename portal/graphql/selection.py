"""What a query selects under a field, as a tree of field names (fragments merged), so
that a resolver prefetches exactly the nested lists asked for: one query per nested list
for a whole page, whatever its size."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from strawberry.types import Info
from strawberry.types.nodes import FragmentSpread, InlineFragment, SelectedField

Tree = dict[str, "Tree"]

# The nested lists of ShipmentType and the part of the shipment each reads
# (visibility.selectors.SHIPMENT_PARTS).
SHIPMENT_FIELD_PARTS = {
    "milestones": "history",
    "etaHistory": "history",
    "orders": "orders",
    "freightCharges": "charges",
    "documents": "documents",
    "stops": "stops",
    "exceptions": "exceptions",
    "customerAccount": "account",
}


def _merge(into: Tree, tree: Tree) -> None:
    for name, subtree in tree.items():
        _merge(into.setdefault(name, {}), subtree)


def _tree(selections: Iterable[Any]) -> Tree:
    tree: Tree = {}
    for selection in selections:
        if isinstance(selection, SelectedField):
            _merge(tree.setdefault(selection.name, {}), _tree(selection.selections))
        elif isinstance(selection, FragmentSpread | InlineFragment):
            _merge(tree, _tree(selection.selections))
    return tree


def selected(info: Info) -> Tree:
    """The selection under the field being resolved."""
    tree: Tree = {}
    for field in info.selected_fields:
        _merge(tree, _tree(field.selections))
    return tree


def nodes_of(connection: Tree) -> Tree:
    """The selection under a connection's `edges { node }`."""
    return connection.get("edges", {}).get("node", {})


def shipment_parts(shipment: Tree, *, annotated_account: bool) -> set[str]:
    """The shipment parts a selection of ShipmentType reads; the account is read from
    the selector's annotation when it has one."""
    parts = {part for name, part in SHIPMENT_FIELD_PARTS.items() if name in shipment}
    if annotated_account:
        parts.discard("account")
    return parts
