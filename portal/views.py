"""Browser pages. Thin: each reads through `visibility.selectors` with the signed-in user."""

from __future__ import annotations

import csv
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts.scoping import is_operator, standing_of
from portal.access import signed_in_user
from portal.forms import (
    InvoiceListForm,
    OrderListForm,
    SavedViewForm,
    SearchForm,
    ShipmentListForm,
    posted_id,
    query_values,
    shipment_list_arguments,
)
from portal.timeline import (
    delay_reason_in_words,
    eta_against_promise,
    order_risk,
    route,
    stop_rows,
    timeline,
)
from visibility import selectors
from visibility.access import visible_object_or_404
from visibility.api.documents import document_response
from visibility.flags import age_in_words
from visibility.models import Invoice, Shipment, ShipmentEvent, ShipmentStatus, TransportMode
from visibility.services.saved_views import TRANSIENT_PARAMETERS, saved_view_save
from visibility.services.saved_views import saved_view_delete as remove_saved_view


def _filtered_shipments(request: HttpRequest) -> tuple[QuerySet, dict[str, Any]]:
    values = query_values(ShipmentListForm, request)
    try:
        shipments = selectors.shipment_list(request.user, **shipment_list_arguments(values))
    except selectors.InvisibleAccounts:
        # An account the user does not see (another tenant's, a typo): it has no rows here.
        shipments = selectors.no_rows(Shipment)
    return shipments, values


# The list's columns: (heading, sort key or "" when the column does not sort).
SHIPMENT_COLUMNS = [
    ("Shipment", "shipment"),
    ("Orders", ""),
    ("Status", "status"),
    ("Carrier", "carrier"),
    ("Route", ""),
    ("ETA", "eta"),
    ("Promised", "promised"),
    ("Last update", "updated"),
]


def _sort_headers(current: str) -> list[dict[str, str]]:
    """Each column's heading, its aria-sort, and the sort a click on it asks for."""
    headers = []
    for label, key in SHIPMENT_COLUMNS:
        state = ""
        next_sort = key
        if key and current.removeprefix("-") == key:
            state = "descending" if current.startswith("-") else "ascending"
            next_sort = key if state == "descending" else f"-{key}"
        elif key == "updated" and not current:
            state, next_sort = "descending", "updated"
        headers.append({"label": label, "key": key, "aria_sort": state, "next_sort": next_sort})
    return headers


def _list_query_string(request: HttpRequest) -> str:
    """The list's query string without what a saved view never keeps (the page)."""
    kept = request.GET.copy()
    for name in TRANSIENT_PARAMETERS:
        kept.pop(name, None)
    return kept.urlencode()


@login_required
def shipment_list(request: HttpRequest) -> HttpResponse:
    user = signed_in_user(request)
    membership = standing_of(user).membership
    saved_views = selectors.saved_views_for(user, membership.tenant_id if membership else None)
    default = next(
        (view for view in saved_views if view.is_default and view.owner_id == user.pk), None
    )
    if default is not None and not request.GET and default.query_string:
        # The user's default view, unless a filter is asked for (`?view=all`: everything).
        return redirect(f"{reverse('shipment-list')}?{default.query_string}")
    shipments, values = _filtered_shipments(request)
    page = Paginator(shipments, values["page_size"] or 25).get_page(request.GET.get("page"))
    choices = selectors.shipment_list_choices(request.user)
    return render(
        request,
        "shipments/list.html",
        {
            "page": page,
            "values": values,
            "statuses": ShipmentStatus.choices,
            "flags": ShipmentListForm.FLAGS,
            "modes": TransportMode.choices,
            "page_sizes": ShipmentListForm.PAGE_SIZES,
            "choices": choices,
            "headers": _sort_headers(values["sort"]),
            "filtered": any(
                value for name, value in values.items() if name not in ("sort", "page_size")
            ),
            "saved_views": saved_views,
            "can_save_views": membership is not None,
            "current_query": _list_query_string(request),
        },
    )


@require_POST
@login_required
def saved_view_create(request: HttpRequest) -> HttpResponse:
    user = signed_in_user(request)
    membership = standing_of(user).membership
    form = SavedViewForm(request.POST)
    if membership is None:
        raise Http404("Only members of a tenant save views")
    if not form.is_valid():
        messages.error(request, "The view was not saved: give it a name of at most 100 characters.")
        return redirect("shipment-list")
    view = saved_view_save(
        owner=user,
        tenant_id=membership.tenant_id,
        name=form.cleaned_data["name"],
        query_string=form.cleaned_data["query_string"],
        shared=form.cleaned_data["shared"],
        make_default=form.cleaned_data["make_default"],
    )
    messages.success(request, f"Saved the view “{view.name}”.")
    return redirect(f"{reverse('shipment-list')}?{view.query_string or 'view=all'}")


@require_POST
@login_required
def saved_view_delete(request: HttpRequest) -> HttpResponse:
    """Only the owner deletes a view; anyone else's (or an unknown) id is not found."""
    if not remove_saved_view(owner=signed_in_user(request), view_id=posted_id(request, "id")):
        raise Http404("No such saved view of yours")
    messages.success(request, "Deleted the saved view.")
    return redirect(f"{reverse('shipment-list')}?view=all")


class _Echo:
    def write(self, value: str) -> str:
        return value


CSV_HEADER = [
    "shipment_id",
    "orders",
    "status",
    "delayed",
    "at_risk",
    "flags",
    "carrier",
    "tracking_numbers",
    "eta",
    "promised_date",
    "delivered_at",
    "last_update",
]


def csv_safe(value: object) -> str:
    """Neutralise spreadsheet formulas (CSV injection): a leading = + - @ gets a quote."""
    text = "" if value is None else str(value)
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _csv_rows(shipments: QuerySet):
    yield CSV_HEADER
    for shipment in shipments.iterator(chunk_size=500):
        yield [
            csv_safe(value)
            for value in (
                shipment.shipment_id,
                " ".join(shipment.order_numbers),
                shipment.get_status_display(),
                shipment.delayed,
                shipment.at_risk,
                "; ".join(shipment.flags),
                shipment.carrier_name,
                " ".join(shipment.tracking_numbers),
                shipment.eta and shipment.eta.isoformat(),
                shipment.promised_date,
                shipment.delivered_at and shipment.delivered_at.isoformat(),
                shipment.last_event_at and shipment.last_event_at.isoformat(),
            )
        ]


@login_required
def shipment_export(request: HttpRequest) -> StreamingHttpResponse:
    writer = csv.writer(_Echo())
    response = StreamingHttpResponse(
        (writer.writerow(row) for row in _csv_rows(_filtered_shipments(request)[0])),
        content_type="text/csv; charset=utf-8",
    )
    response["Content-Disposition"] = 'attachment; filename="shipments.csv"'
    return response


@login_required
def shipment_detail(request: HttpRequest, shipment_id: str) -> HttpResponse:
    shipment = visible_object_or_404(request.user, "shipment", shipment_id, request=request)
    history = list(shipment.history.all())
    stops = stop_rows(selectors.stops_of_shipment(shipment), history)
    slip, late = eta_against_promise(shipment)
    exceptions = selectors.open_exceptions_of_shipment(request.user, shipment)
    delays = [fact for fact in history if fact.kind == ShipmentEvent.Kind.DELAY]
    return render(
        request,
        "shipments/detail.html",
        {
            "shipment": shipment,
            "timeline": timeline(history),
            "stops": stops,
            "route": route(shipment, stops),
            "slip": slip,
            "late": late,
            "latest_delay_reason": delay_reason_in_words(delays[-1]) if delays else "",
            "documents": selectors.documents_of_shipment(request.user, shipment),
            "orders": [
                link.order for link in selectors.order_links_of_shipment(request.user, shipment)
            ],
            "charges": selectors.charges_of_shipment(request.user, shipment),
            "eta_history": selectors.eta_history(shipment),
            "exceptions": exceptions,
            "last_heard": age_in_words(shipment.last_heard_at, timezone.now()),
        },
    )


def healthz(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok", content_type="text/plain")


@login_required
def search(request: HttpRequest) -> HttpResponse:
    query = query_values(SearchForm, request)["q"]
    results = selectors.search_results(request.user, query) if query else []
    # One exact match: the caller meant that object, open it.
    if len(results) == 1 and results[0].hit.exact:
        hit = results[0].hit
        return redirect(SEARCH_TARGETS[hit.kind], hit.object_key)
    return render(
        request,
        "search.html",
        {"query": query, "results": results, "operator": is_operator(request.user)},
    )


SEARCH_TARGETS = {
    "shipment": "shipment-detail",
    "order": "order-detail",
    "invoice": "invoice-detail",
}


@login_required
def order_detail(request: HttpRequest, order_number: str) -> HttpResponse:
    order = visible_object_or_404(request.user, "order", order_number, request=request)
    links = selectors.shipment_links_of_order(request.user, order)
    return render(
        request,
        "orders/detail.html",
        {
            "order": order,
            "links": links,
            "risk": order_risk(
                order.requested_delivery_date,
                [link.shipment for link in links],
                flagged=order.at_risk,
            ),
            "invoices": selectors.invoices_of_order(request.user, order),
        },
    )


@login_required
def document_download(request: HttpRequest, document_id: str) -> FileResponse:
    return document_response(request, request.user, document_id)


@login_required
def invoice_list(request: HttpRequest) -> HttpResponse:
    values = query_values(InvoiceListForm, request)
    allowed = selectors.can_see_invoices(request.user)
    invoices = selectors.invoice_list(request.user, **values)
    page = Paginator(invoices, 25).get_page(request.GET.get("page"))
    return render(
        request,
        "invoices/list.html",
        {
            "page": page,
            "statuses": Invoice.Status.choices,
            # Without the finance grant the page says so, rather than "no invoices".
            "denied": not allowed,
            **values,
        },
    )


@login_required
def invoice_detail(request: HttpRequest, invoice_number: str) -> HttpResponse:
    invoice = visible_object_or_404(request.user, "invoice", invoice_number, request=request)
    return render(request, "invoices/detail.html", {"invoice": invoice})


@login_required
def order_list(request: HttpRequest) -> HttpResponse:
    values = query_values(OrderListForm, request)
    orders = selectors.order_list(
        request.user,
        statuses=[values["status"]] if values["status"] else (),
        date_from=values["date_from"],
        date_to=values["date_to"],
        text=values["q"],
    )
    page = Paginator(orders, 25).get_page(request.GET.get("page"))
    return render(
        request,
        "orders/list.html",
        {
            "page": page,
            "statuses": ShipmentStatus.choices,
            "status": values["status"],
            "date_from": values["date_from"],
            "date_to": values["date_to"],
            "query": values["q"],
        },
    )
