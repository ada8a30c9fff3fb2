"""Branded error pages (handler403/404/500): the site's navigation and a way back.

Paths of the API and GraphQL answer RFC 9457 problems instead (core/problems.py)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseServerError
from django.shortcuts import render
from django.template import loader

from core.problems import problem_response

MACHINE_PATHS = ("/api/", "/graphql")


def _page(request: HttpRequest, status: int, template: str, message: str) -> HttpResponse:
    if request.path_info.startswith(MACHINE_PATHS):
        return problem_response(status, detail=message)
    return render(request, template, {"status": status}, status=status)


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _page(request, 403, "errors/403.html", "You do not have access to this.")


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """A form sent without its CSRF token (cookies blocked, a page left open across a
    sign-out): the branded 403 with a way back, not Django's bare CSRF page."""
    if request.path_info.startswith(MACHINE_PATHS):
        return problem_response(403, detail="The request's CSRF check failed.")
    return render(request, "errors/403.html", {"status": 403, "csrf_failed": True}, status=403)


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _page(request, 404, "errors/404.html", "Not found.")


def server_error(request: HttpRequest) -> HttpResponse:
    """Rendered without the request's context: whatever failed (the database, most
    likely) is not asked again to draw the menu."""
    if request.path_info.startswith(MACHINE_PATHS):
        return problem_response(500, detail="Something went wrong on our side.")
    return HttpResponseServerError(loader.get_template("errors/500.html").render({}))
