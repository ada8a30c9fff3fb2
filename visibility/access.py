"""Opening one tenant object for a request (a page, a REST detail, a GraphQL field).

Read through the object's selector with the actor; what the actor may not see does not
exist (404 on pages and REST, null in GraphQL, never 403). Written once here rather than
in every detail view. The operator's staff are audited once per request whatever they read
(`accounts.audit`); opening an object names it (and its tenant) in that entry.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, overload

from django.http import Http404, HttpRequest

from accounts.audit import note_staff_object
from accounts.scoping import Actor
from visibility import selectors
from visibility.models import Document, Invoice, Order, Shipment

Kind = Literal["shipment", "order", "invoice", "document"]

GETTERS: dict[str, Callable[..., Shipment | Order | Invoice | Document | None]] = {
    "shipment": selectors.shipment_get,
    "order": selectors.order_get,
    "invoice": selectors.invoice_get,
    "document": selectors.document_get,
}


# The overloads tell each caller which model its kind opens.
@overload
def visible_object(
    actor: Actor, kind: Literal["shipment"], key: str, *, request: HttpRequest
) -> Shipment | None: ...


@overload
def visible_object(
    actor: Actor,
    kind: Literal["order"],
    key: str,
    *,
    request: HttpRequest,
    with_shipment_details: bool = ...,
) -> Order | None: ...


@overload
def visible_object(
    actor: Actor, kind: Literal["invoice"], key: str, *, request: HttpRequest
) -> selectors.InvoiceWithStatus | None: ...


@overload
def visible_object(
    actor: Actor, kind: Literal["document"], key: str, *, request: HttpRequest
) -> Document | None: ...


def visible_object(
    actor: Actor, kind: Kind, key: str, *, request: HttpRequest, **selector_arguments: Any
) -> Shipment | Order | Invoice | Document | None:
    """The `kind` object named `key` if the actor may see it, else None; a staff look's
    audit entry names it. `selector_arguments` go to the kind's selector (prefetches)."""
    found = GETTERS[kind](actor, key, **selector_arguments)
    if found is not None:
        note_staff_object(actor, kind=kind, key=key, tenant_id=found.customer_account.tenant_id)
    return found


@overload
def visible_object_or_404(
    actor: Actor, kind: Literal["shipment"], key: str, *, request: HttpRequest
) -> Shipment: ...


@overload
def visible_object_or_404(
    actor: Actor,
    kind: Literal["order"],
    key: str,
    *,
    request: HttpRequest,
    with_shipment_details: bool = ...,
) -> Order: ...


@overload
def visible_object_or_404(
    actor: Actor, kind: Literal["invoice"], key: str, *, request: HttpRequest
) -> selectors.InvoiceWithStatus: ...


@overload
def visible_object_or_404(
    actor: Actor, kind: Literal["document"], key: str, *, request: HttpRequest
) -> Document: ...


def visible_object_or_404(
    actor: Actor, kind: Kind, key: str, *, request: HttpRequest, **selector_arguments: Any
) -> Shipment | Order | Invoice | Document:
    found = visible_object(actor, kind, key, request=request, **selector_arguments)
    if found is None:
        raise Http404(f"No such {kind}")
    return found
