"""Browser pages. Thin: each reads through `visibility.selectors` with the signed-in user."""

from __future__ import annotations

import csv
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import FileResponse, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from accounts.scoping import is_operator
from portal.forms import (
    InvoiceListForm,
    OrderListForm,
    SearchForm,
    ShipmentListForm,
    query_values,
)
from visibility import selectors
from visibility.access import visible_object_or_404
from visibility.api.documents import document_response
from visibility.flags import age_in_words
from visibility.models import Invoice, ShipmentStatus


def home(request: HttpRequest) -> HttpResponse:
    return redirect("shipment-list" if request.user.is_authenticated else "login")


def _filtered_shipments(request: HttpRequest) -> tuple[QuerySet, dict[str, Any]]:
    values = query_values(ShipmentListForm, request)
    shipments = selectors.shipment_list(
        request.user,
        statuses=[values["status"]] if values["status"] else (),
        text=values["q"],
    )
    return shipments, values


@login_required
def shipment_list(request: HttpRequest) -> HttpResponse:
    shipments, values = _filtered_shipments(request)
    page = Paginator(shipments, 25).get_page(request.GET.get("page"))
    return render(
        request,
        "shipments/list.html",
        {
            "page": page,
            "statuses": ShipmentStatus.choices,
            "status": values["status"],
            "query": values["q"],
        },
    )


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
    return render(
        request,
        "shipments/detail.html",
        {
            "shipment": shipment,
            "history": history,
            "documents": selectors.documents_of_shipment(request.user, shipment),
            "orders": [
                link.order for link in selectors.order_links_of_shipment(request.user, shipment)
            ],
            "charges": selectors.charges_of_shipment(request.user, shipment),
            "eta_history": selectors.eta_history(shipment),
            "exceptions": selectors.open_exceptions_of_shipment(request.user, shipment),
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
    return render(
        request,
        "orders/detail.html",
        {
            "order": order,
            "invoices": selectors.invoices_of_order(request.user, order),
        },
    )


@login_required
def document_download(request: HttpRequest, document_id: str) -> FileResponse:
    return document_response(request, request.user, document_id)


@login_required
def invoice_list(request: HttpRequest) -> HttpResponse:
    values = query_values(InvoiceListForm, request)
    invoices = selectors.invoice_list(request.user, **values)
    page = Paginator(invoices, 25).get_page(request.GET.get("page"))
    return render(
        request,
        "invoices/list.html",
        {
            "page": page,
            "statuses": Invoice.Status.choices,
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
