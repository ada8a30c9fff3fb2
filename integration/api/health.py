"""Integration health for staff and platform admins: a JSON endpoint and a page."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from accounts.scoping import is_operator
from integration.selectors import integration_health


@login_required
def integration_health_json(request: HttpRequest) -> JsonResponse:
    if not is_operator(request.user):
        raise Http404
    return JsonResponse(integration_health())


@login_required
def integration_health_page(request: HttpRequest) -> HttpResponse:
    if not is_operator(request.user):
        raise Http404
    return render(request, "operations/integration_health.html", {"health": integration_health()})
