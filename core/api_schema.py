"""Pieces of the OpenAPI document that every API module shares: the problem schema
(RFC 9457, core/problems.py) and the error responses an operation declares.

    @extend_schema(responses={200: ShipmentSerializer, **problem_responses(400, 401, 404)})
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiExample, OpenApiResponse, inline_serializer
from rest_framework import serializers

from core.problems import PROBLEM_CONTENT_TYPE, PROBLEM_TYPES, STATUS_SLUGS, problem_body


class ProblemErrorSerializer(serializers.Serializer):
    detail = serializers.CharField(help_text="What is wrong with this field.")
    parameter = serializers.CharField(
        required=False, help_text="The query parameter at fault (query strings)."
    )
    pointer = serializers.CharField(
        required=False, help_text="A JSON pointer into the body (`#/events/0/id`)."
    )


class ProblemSerializer(serializers.Serializer):
    """An RFC 9457 problem: the body of every API failure (`application/problem+json`)."""

    type = serializers.CharField(
        help_text="A URI naming the kind of problem (docs/API.md, Errors), or `about:blank`."
    )
    title = serializers.CharField(help_text="A short summary of the kind of problem.")
    status = serializers.IntegerField(help_text="The HTTP status code.")
    detail = serializers.CharField(
        required=False, help_text="What went wrong with this request, for a human."
    )
    # `errors` is also the name of Serializer's own property: the stubs see the clash.
    errors = ProblemErrorSerializer(  # type: ignore[assignment]
        many=True, required=False, help_text="Validation failures, one per field."
    )


EXAMPLE_DETAILS: dict[int, dict[str, Any]] = {
    400: {
        "detail": "Invalid query parameters: delayed: Must be a valid boolean.",
        "errors": [{"detail": "Must be a valid boolean.", "parameter": "delayed"}],
    },
    401: {"detail": "Authentication credentials were not provided."},
    403: {"detail": "You do not have permission to perform this action."},
    404: {"detail": "Not found."},
    405: {"detail": 'Method "DELETE" not allowed.'},
    413: {"detail": "The body is larger than 5 MB."},
    429: {"detail": "Rate limit exceeded: retry in 17 seconds."},
    503: {"detail": "The service is temporarily unavailable; retry later."},
}

DESCRIPTIONS = {
    400: "A parameter or the body is invalid; `errors` names each.",
    401: "No credentials, or an invalid, expired or revoked token (see `WWW-Authenticate`).",
    403: "Authenticated but not allowed.",
    404: "Not found, or not visible to the caller (another tenant's object is never a 403).",
    405: "Method not allowed.",
    413: "Payload too large.",
    429: "The token's rate budget is spent; retry after `Retry-After` seconds.",
    503: "The database is unreachable; retry after `Retry-After` seconds.",
}


def problem_example(status: int) -> dict[str, Any]:
    slug = STATUS_SLUGS[status]
    return problem_body(status, slug=slug, **EXAMPLE_DETAILS.get(status, {}))


def problem_responses(*statuses: int) -> dict[tuple[int, str], OpenApiResponse]:
    """`responses` entries for these statuses: the problem schema as
    `application/problem+json`, a description and an example each."""
    return {
        (status, PROBLEM_CONTENT_TYPE): OpenApiResponse(
            response=ProblemSerializer,
            description=DESCRIPTIONS.get(status, PROBLEM_TYPES[STATUS_SLUGS[status]][1]),
            examples=[
                OpenApiExample(
                    f"problem {status}",
                    value=problem_example(status),
                    status_codes=[status],
                    media_type="application/problem+json",
                )
            ],
        )
        for status in statuses
    }


# Every read endpoint can answer these (auth, not found / not visible, throttling, outage).
READ_ERRORS = (401, 404, 429, 503)
LIST_ERRORS = (400, 401, 429, 503)

__all__ = [
    "LIST_ERRORS",
    "READ_ERRORS",
    "ProblemSerializer",
    "inline_serializer",
    "problem_responses",
]
