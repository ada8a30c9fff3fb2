"""Integration health for staff and platform admins as JSON (the page: portal/platform_views.py)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, JsonResponse

from accounts.scoping import is_operator
from integration.selectors import integration_health


@login_required
def integration_health_json(request: HttpRequest) -> JsonResponse:
    if not is_operator(request.user):
        raise Http404
    return JsonResponse(integration_health())
