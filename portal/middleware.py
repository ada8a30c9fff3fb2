"""Requests that must not reach a view as they are: a database outage answers 503 with
Retry-After, a path or query string no view can use answers 404/400 — never 500."""

from __future__ import annotations

import logging
import zoneinfo

from django.core.exceptions import BadRequest
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone

from portal.converters import CONTROL_CHARACTERS

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5


class DatabaseUnavailableMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, OperationalError | InterfaceError):
            return None
        logger.error("database unavailable: %s", exception)
        response = JsonResponse(
            {"error": "the service is temporarily unavailable; retry later"}, status=503
        )
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response


class UnusableRequestMiddleware:
    """One place for what no route can serve (issue 15): a control character in the path
    (no identifier may hold one) is not found, a NUL in a query string (PostgreSQL cannot
    compare text with it) is a bad request. The API answers JSON, pages the usual pages.
    Undecodable percent-escapes (`%ff`) stay literal text in Django's path, so they are
    merely ids nothing has."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        is_api = request.path_info.startswith("/api/")
        if CONTROL_CHARACTERS.search(request.path_info):
            if is_api:
                return JsonResponse({"detail": "Not found."}, status=404)
            raise Http404("No such page")
        refused = sorted(
            {key for key, value in _query_items(request) if "\x00" in key or "\x00" in value}
        )
        if refused:
            message = "must not contain NUL characters"
            if is_api:
                # The shape of the API's other validation errors: each parameter named.
                return JsonResponse(
                    {"detail": f"query parameters {message}"}
                    | {key.replace("\x00", "\ufffd"): [message] for key in refused},
                    status=400,
                )
            raise BadRequest(f"query parameters {message}")
        return self.get_response(request)


def _query_items(request: HttpRequest):
    for key, values in request.GET.lists():
        for value in values:
            yield key, value


# The session remembers the signed-in user's time zone (set at sign-in and by the
# profile page), so that showing times in it costs no query per page.
SESSION_TIME_ZONE = "time_zone"


class UserTimeZoneMiddleware:
    """Pages show times in the user's time zone; the API always answers in UTC."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        zone = ""
        if not request.path_info.startswith(("/api/", "/graphql")):
            zone = request.session.get(SESSION_TIME_ZONE, "")
        if zone:
            try:
                timezone.activate(zoneinfo.ZoneInfo(zone))
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                timezone.deactivate()
        else:
            timezone.deactivate()
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
