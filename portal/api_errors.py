"""Every API failure answers RFC 9457 problem+json (core/problems.py, docs/API.md "Errors").

`problem_exception_handler` is DRF's exception handler: validation errors become a 400 with
one `errors` entry per field (`parameter` for a query string, `pointer` for a body), a
missing or bad credential a 401 with `WWW-Authenticate`, throttling a 429 with
`Retry-After`, a database outage a 503. What DRF does not handle (an unexpected exception,
a non-DRF view, an unknown path) is answered by `portal.middleware.ApiExceptionMiddleware`
and `ApiResponseMiddleware`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator, Mapping
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response

from core.problems import PROBLEM_CONTENT_TYPE, STATUS_SLUGS, problem_body, problem_response

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5
# Methods whose arguments are the query string; any other method's are its body.
QUERY_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "DELETE"})


def _flatten(detail: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], str]]:
    """(path, message) for each message of a DRF error detail (dicts and lists nest)."""
    if isinstance(detail, Mapping):
        for key, value in detail.items():
            yield from _flatten(value, (*path, str(key)))
    elif isinstance(detail, list | tuple):
        if all(not isinstance(item, Mapping | list | tuple) for item in detail):
            for item in detail:
                yield path, str(item)
        else:
            for index, item in enumerate(detail):
                yield from _flatten(item, (*path, str(index)))
    else:
        yield path, str(detail)


def _json_pointer(path: tuple[str, ...]) -> str:
    return "#/" + "/".join(part.replace("~", "~0").replace("/", "~1") for part in path)


def validation_errors(detail: Any, *, in_query: bool) -> list[dict[str, str]]:
    """`errors` of a validation problem: `{detail, parameter}` for a query string,
    `{detail, pointer}` (a JSON pointer into the body) otherwise."""
    errors = []
    for path, message in _flatten(detail):
        if in_query:
            parameter = ".".join(path) if path and path[0] != "non_field_errors" else None
            errors.append({"detail": message, "parameter": parameter or ""})
        else:
            pointer = _json_pointer(path) if path and path[0] != "non_field_errors" else "#"
            errors.append({"detail": message, "pointer": pointer})
    return errors


def problem(status: int, body: dict[str, Any], headers: Mapping[str, str] | None = None):
    response = Response(body, status=status, headers=dict(headers or {}))
    response.content_type = PROBLEM_CONTENT_TYPE
    return response


def problem_exception_handler(exception: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exception, OperationalError | InterfaceError):
        logger.error("database unavailable: %s", exception)
        return problem(
            503,
            problem_body(
                503,
                slug="service-unavailable",
                detail="The service is temporarily unavailable; retry later.",
            ),
            {"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    if isinstance(exception, Http404):
        exception = exceptions.NotFound()
    elif isinstance(exception, DjangoPermissionDenied):
        exception = exceptions.PermissionDenied()
    if not isinstance(exception, exceptions.APIException):
        return None  # a bug: ApiExceptionMiddleware answers a problem 500 and logs it
    if isinstance(exception, exceptions.NotFound) and (
        str(exception.detail) == CursorPagination.invalid_cursor_message
    ):
        # DRF answers a cursor it cannot decode 404; it is a bad parameter, not a missing page.
        exception = exceptions.ValidationError({"cursor": ["Invalid cursor."]})

    status = exception.status_code
    headers: dict[str, str] = {}
    if isinstance(exception, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        # DRF answers 401 (not 403) when the first authenticator names a challenge.
        authenticate = getattr(exception, "auth_header", None)
        if authenticate:
            headers["WWW-Authenticate"] = authenticate
    wait = getattr(exception, "wait", None)
    if isinstance(exception, exceptions.Throttled) and wait is not None:
        headers["Retry-After"] = str(max(1, math.ceil(wait)))
    slug = STATUS_SLUGS.get(status)

    if isinstance(exception, exceptions.ValidationError):
        request = context.get("request")
        in_query = request is None or request.method in QUERY_METHODS
        errors = validation_errors(exception.detail, in_query=in_query)
        where = "query parameters" if in_query else "body"
        body = problem_body(
            400,
            slug="invalid-request",
            detail=f"Invalid {where}: " + "; ".join(_summary(error) for error in errors),
            errors=errors,
        )
        return problem(400, body, headers)

    detail = exception.detail
    text = str(detail) if not isinstance(detail, dict | list) else None
    if isinstance(exception, exceptions.Throttled):
        text = f"Rate limit exceeded: retry in {headers.get('Retry-After', 'a few')} seconds."
    return problem(status, problem_body(status, slug=slug, detail=text), headers)


def _summary(error: Mapping[str, str]) -> str:
    where = error.get("parameter") or error.get("pointer") or ""
    return f"{where}: {error['detail']}" if where and where != "#" else error["detail"]


# Exempt: an unknown path is a 404 whatever the method, never a CSRF 403 first (found by
# schemathesis: a POST to /api/v1/webhooks/x/ping answered 403 before "no such path").
@csrf_exempt
def api_not_found(request: HttpRequest) -> HttpResponse:
    """The last route: a path under /api/ that no endpoint serves (any method)."""
    return problem_response(
        404,
        slug="not-found",
        detail="No such endpoint; the API's paths are in /api/v1/schema.",
    )
