"""Requests that must not reach a view as they are, and what every API answer carries.

- A database outage answers 503 with Retry-After, a path or query string no view can use
  answers 404/400 — never 500.
- Under `/api/` every failure is RFC 9457 problem+json (portal/api_errors.py for DRF; here
  for everything else: unknown paths, non-DRF views, unexpected exceptions), successful
  reads carry a weak `ETag` (and answer `304` to `If-None-Match` / `If-Modified-Since`),
  token answers carry `RateLimit-*` headers, and JSON is compressed (br, gzip, zstd).
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import zoneinfo
from collections.abc import Callable

from compression_middleware.middleware import CompressionMiddleware
from django.core.exceptions import BadRequest, PermissionDenied, SuspiciousOperation
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.utils import timezone
from django.utils.cache import get_conditional_response, patch_vary_headers
from django.utils.http import parse_http_date_safe

from accounts.throttling import RATE_DECISION_ATTRIBUTE, RateDecision
from core import metrics
from core.conditional import EXACT_ATTRIBUTE
from core.logs import REQUEST_ID_HEADER, request_id
from core.problems import PROBLEM_CONTENT_TYPE, STATUS_SLUGS, problem_response
from portal.api_errors import RETRY_AFTER_SECONDS
from portal.converters import CONTROL_CHARACTERS

logger = logging.getLogger(__name__)

API_PREFIX = "/api/"
# Headers of an error response that a problem answer must keep.
KEPT_HEADERS = ("Allow", "WWW-Authenticate", "Retry-After")
COMPRESSED_TYPES = ("application/json", PROBLEM_CONTENT_TYPE, "application/vnd.oai.openapi")


def is_api_request(request: HttpRequest) -> bool:
    return request.path_info.startswith(API_PREFIX)


def database_unavailable_response() -> HttpResponse:
    return problem_response(
        503,
        slug="service-unavailable",
        detail="The service is temporarily unavailable; retry later.",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


class RequestMetricsMiddleware:
    """Outermost: counts and times every request by its route's name (`portal_http_*`,
    core/metrics.py), never by its raw path, which would grow without bound; a path no
    route matched is `unmatched`. Answers carry the request's correlation id
    (`X-Request-ID`, core/logs.py)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        started = time.perf_counter()
        response = self.get_response(request)
        elapsed = time.perf_counter() - started
        match = request.resolver_match
        route = match.view_name if match is not None and match.url_name else "unmatched"
        # An unknown method is not a label value either.
        method = request.method if request.method in KNOWN_METHODS else "other"
        metrics.http_requests.labels(route, method, str(response.status_code)).inc()
        metrics.http_request_duration.labels(route, method).observe(elapsed)
        response.headers.setdefault(REQUEST_ID_HEADER, request_id(request))
        return response


KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class DatabaseUnavailableMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, OperationalError | InterfaceError):
            return None
        logger.error("database unavailable: %s", exception)
        return database_unavailable_response()


class ApiExceptionMiddleware:
    """An exception a view under `/api/` let escape answers a problem, never Django's
    HTML pages (which under DEBUG would show the traceback). Last in MIDDLEWARE, so it
    sees the view's exception first; the database outage is left to the middleware above."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not is_api_request(request) or isinstance(exception, OperationalError | InterfaceError):
            return None
        if isinstance(exception, Http404):
            return problem_response(404, slug="not-found", detail="Not found.")
        if isinstance(exception, PermissionDenied):
            return problem_response(403, slug="permission-denied", detail=str(exception) or None)
        if isinstance(exception, BadRequest | SuspiciousOperation):
            return problem_response(400, slug="invalid-request", detail="Bad request.")
        logger.exception("unhandled error answering %s %s", request.method, request.path)
        return problem_response(
            500, slug="server-error", detail="An unexpected error occurred; it was logged."
        )


class UnusableRequestMiddleware:
    """One place for what no route can serve (issue 15): a control character in the path
    (no identifier may hold one) is not found, a NUL in a query string (PostgreSQL cannot
    compare text with it) is a bad request. The API answers problems, pages the usual
    pages. Undecodable percent-escapes (`%ff`) stay literal text in Django's path, so they
    are merely ids nothing has."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        is_api = is_api_request(request)
        if CONTROL_CHARACTERS.search(request.path_info):
            if is_api:
                return problem_response(404, slug="not-found", detail="Not found.")
            raise Http404("No such page")
        refused = sorted(
            {key for key, value in _query_items(request) if "\x00" in key or "\x00" in value}
        )
        if refused:
            message = "must not contain NUL characters"
            if is_api:
                return problem_response(
                    400,
                    slug="invalid-request",
                    detail=f"Query parameters {message}.",
                    errors=[
                        {"detail": message, "parameter": key.replace("\x00", "\ufffd")}
                        for key in refused
                    ],
                )
            raise BadRequest(f"query parameters {message}")
        return self.get_response(request)


def _query_items(request: HttpRequest):
    for key, values in request.GET.lists():
        for value in values:
            yield key, value


class ApiResponseMiddleware:
    """What every answer under `/api/` carries, whichever view (or none) produced it:

    - an error that is not yet a problem (Django's 404 for an unknown path, a 405 from
      `require_POST`, a CSRF 403) is rewritten as one, keeping `Allow`,
      `WWW-Authenticate` and `Retry-After`;
    - a successful GET gets a weak `ETag` from its body, and `If-None-Match` (or, without
      it, `If-Modified-Since` against the view's `Last-Modified`) answers `304`;
    - `Cache-Control: private, no-cache` (shared caches must not keep a tenant's data;
      clients revalidate with the ETag) and `Vary: Authorization`;
    - `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset` and `RateLimit-Policy`
      when a token's budget was charged (accounts/throttling.py).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        if not is_api_request(request):
            return response
        if response.status_code >= 400 and not _is_problem(response):
            response = _as_problem(response)
        if request.method in ("GET", "HEAD") and response.status_code == 200:
            response = _conditional(request, response)
        if response.status_code < 400 and not response.has_header("Cache-Control"):
            response["Cache-Control"] = "private, no-cache"
        patch_vary_headers(response, ("Authorization",))
        decision = getattr(request, RATE_DECISION_ATTRIBUTE, None)
        if isinstance(decision, RateDecision):
            for name, value in decision.headers().items():
                response[name] = value
        return response


def _is_problem(response: HttpResponseBase) -> bool:
    return response.get("Content-Type", "").startswith(PROBLEM_CONTENT_TYPE)


def _as_problem(response: HttpResponseBase) -> HttpResponse:
    status = response.status_code
    detail = None
    if response.get("Content-Type", "").startswith("application/json") and isinstance(
        response, HttpResponse
    ):
        try:
            body = json.loads(response.content)
        except ValueError:
            body = None
        if isinstance(body, dict) and isinstance(body.get("detail"), str):
            detail = body["detail"]
    if status == 404 and detail is None:
        detail = "No such endpoint or object; the API's paths are in /api/v1/schema."
    problem = problem_response(
        status,
        slug=STATUS_SLUGS.get(status, "server-error" if status >= 500 else "invalid-request"),
        detail=detail,
        headers={name: response[name] for name in KEPT_HEADERS if response.has_header(name)},
    )
    return problem


def _conditional(request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
    if response.streaming or not isinstance(response, HttpResponse):
        return response  # downloads: their checksum is X-Content-SHA256
    if not response.has_header("ETag"):
        response["ETag"] = f'W/"{hashlib.blake2b(response.content, digest_size=16).hexdigest()}"'
    last_modified = None
    if getattr(response, EXACT_ATTRIBUTE, False):
        last_modified = parse_http_date_safe(response.get("Last-Modified", ""))
    conditional = get_conditional_response(
        request, etag=response["ETag"], last_modified=last_modified, response=response
    )
    return conditional if conditional is not None else response


class ApiCompressionMiddleware(CompressionMiddleware):
    """zstd, br or gzip for the API's JSON only. Pages are left alone (BREACH: they carry
    CSRF tokens next to reflected input); API answers carry no CSRF token, and cross-site
    requests do not carry the session cookie (SameSite=Lax) nor a bearer token."""

    def process_response(self, request: HttpRequest, response: HttpResponseBase):
        if not is_api_request(request) or not response.get("Content-Type", "").startswith(
            COMPRESSED_TYPES
        ):
            return response
        return super().process_response(request, response)


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
