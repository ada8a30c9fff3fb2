"""RFC 9457 problem details: the one error format of every API answer (REST, GraphQL
transport, event intake).

A problem is `type`, `title`, `status`, `detail` and, for validation failures, `errors`:
one entry per failing field with its path (`{"detail": ..., "pointer": "#/events/0/id"}`
for a JSON body, `{"detail": ..., "parameter": "delayed"}` for a query string).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.http import HttpResponse, JsonResponse

PROBLEM_CONTENT_TYPE = "application/problem+json"
# `type` URIs are relative to the API docs (docs/API.md, "Errors"); "about:blank" means the
# HTTP status says it all.
PROBLEM_TYPE_BASE = "/api/docs/problems/"

TITLES = {
    400: "Bad request",
    401: "Not authenticated",
    403: "Permission denied",
    404: "Not found",
    405: "Method not allowed",
    406: "Not acceptable",
    409: "Conflict",
    412: "Precondition failed",
    413: "Payload too large",
    415: "Unsupported media type",
    422: "Unprocessable content",
    429: "Too many requests",
    500: "Internal server error",
    503: "Service unavailable",
}


# The problem types the API answers (docs/API.md, "Errors"): slug -> (status, meaning).
# A handler names one of these; `about:blank` is left for answers the status says all of.
PROBLEM_TYPES: dict[str, tuple[int, str]] = {
    "invalid-request": (400, "A query parameter or the body is invalid; `errors` names each."),
    "malformed-json": (400, "The body is not JSON (event intake)."),
    "not-authenticated": (401, "No credentials, or a token that is invalid, expired or revoked."),
    "permission-denied": (403, "Authenticated, but not allowed to do this."),
    "not-found": (404, "No such endpoint, or no such object visible to the caller."),
    "method-not-allowed": (405, "The endpoint does not answer this method (see `Allow`)."),
    "not-acceptable": (406, "The endpoint cannot answer in a media type the caller accepts."),
    "payload-too-large": (413, "The body or the batch is over its limit."),
    "unsupported-media-type": (415, "The body's media type is not accepted."),
    "rate-limited": (429, "The token's budget for this window is spent (see `Retry-After`)."),
    "server-error": (500, "An unexpected failure; it was logged."),
    "service-unavailable": (503, "The database is unreachable; retry after `Retry-After`."),
}
STATUS_SLUGS = {status: slug for slug, (status, _meaning) in reversed(PROBLEM_TYPES.items())}


def problem_type(slug: str) -> str:
    return f"{PROBLEM_TYPE_BASE}{slug}"


def problem_body(
    status: int,
    *,
    detail: str | None = None,
    title: str | None = None,
    slug: str | None = None,
    errors: Sequence[Mapping[str, Any]] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": problem_type(slug) if slug else "about:blank",
        "title": title or TITLES.get(status, "Error"),
        "status": status,
    }
    if detail:
        body["detail"] = detail
    if errors:
        body["errors"] = [dict(error) for error in errors]
    body.update(extra)
    return body


def problem_response(
    status: int,
    *,
    detail: str | None = None,
    title: str | None = None,
    slug: str | None = None,
    errors: Sequence[Mapping[str, Any]] | None = None,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> HttpResponse:
    """A Django response carrying a problem (for views and middleware outside DRF)."""
    response = JsonResponse(
        problem_body(status, detail=detail, title=title, slug=slug, errors=errors, **extra),
        status=status,
        content_type=PROBLEM_CONTENT_TYPE,
    )
    for name, value in (headers or {}).items():
        response[name] = value
    return response
