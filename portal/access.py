"""Who may open a page, decided once for every page that needs it."""

from __future__ import annotations

from django.http import Http404, HttpRequest

from accounts.models import Membership
from accounts.selectors import tenant_admin_membership


def tenant_admin_or_404(request: HttpRequest) -> Membership:
    """The signed-in tenant admin's membership. Anyone else gets 404, not 403: to them the
    tenant's settings pages do not exist."""
    membership = tenant_admin_membership(request.user)
    if membership is None or not request.user.is_active:
        raise Http404("Only tenant admins manage this")
    return membership
