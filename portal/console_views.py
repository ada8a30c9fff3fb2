"""The customer-service console: one search box across the tenants an agent serves, the
tenants with their open work, and a read-only view of one tenant's portal.

Operators only (anyone else gets 404, like every page they may not see). Their looks at
tenant data are audited by the request's staff-read collector (accounts/audit.py),
because every read here goes through the tenant-scoped selectors.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.scoping import is_operator
from portal.forms import ShipmentListForm, query_values
from visibility import selectors
from visibility.models import ShipmentStatus

# The read-only tenant view's quick filters: name -> shipment_list arguments.
TENANT_VIEWS: dict[str, tuple[str, dict[str, Any]]] = {
    "all": ("All shipments", {}),
    "late": ("Late", {"late": True}),
    "overdue": ("Overdue", {"overdue": True}),
    "exceptions": ("Exceptions", {"statuses": [ShipmentStatus.EXCEPTION]}),
    "in_transit": ("In transit", {"statuses": [ShipmentStatus.IN_TRANSIT]}),
}


def _operator_or_404(request: HttpRequest) -> None:
    if not is_operator(request.user):
        raise Http404


@login_required
def console_home(request: HttpRequest) -> HttpResponse:
    _operator_or_404(request)
    return render(
        request,
        "console/home.html",
        {"tenants": selectors.tenants_served_overview(request.user)},
    )


@login_required
def tenant_portal_view(request: HttpRequest, tenant_id: int) -> HttpResponse:
    _operator_or_404(request)
    tenant = selectors.tenant_served_get(request.user, tenant_id)
    if tenant is None:
        raise Http404
    view = request.GET.get("view", "all")
    if view not in TENANT_VIEWS:
        view = "all"
    text = query_values(ShipmentListForm, request)["q"]
    shipments = selectors.shipment_list(
        request.user, tenant_id=tenant.id, text=text, **TENANT_VIEWS[view][1]
    )
    page = Paginator(shipments, 25).get_page(request.GET.get("page"))
    return render(
        request,
        "console/tenant.html",
        {
            "tenant": tenant,
            "page": page,
            "views": [(name, label) for name, (label, _) in TENANT_VIEWS.items()],
            "view": view,
            "query": text,
        },
    )
