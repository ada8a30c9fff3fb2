"""GraphQL field errors: every error in an answer carries `extensions.code` (docs/API.md,
"GraphQL errors"). Transport errors are not these: they answer RFC 9457 problem+json
(portal/graphql/views.py)."""

from __future__ import annotations

from typing import Any

from graphql import GraphQLError

BAD_USER_INPUT = "BAD_USER_INPUT"
LIMIT_EXCEEDED = "LIMIT_EXCEEDED"
GRAPHQL_PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
GRAPHQL_VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
PERSISTED_QUERY_NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"
INTERNAL_SERVER_ERROR = "INTERNAL_SERVER_ERROR"
CURSOR_EXPIRED = "CURSOR_EXPIRED"

# Messages of strawberry's limiters (portal/graphql/limits.py), which carry no code.
_LIMIT_MESSAGES = ("more than", "aliases found", "exceeds maximum operation depth")


def bad_user_input(message: str, *, argument: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": BAD_USER_INPUT, "argument": argument})


def cursor_expired(pruned_through: int) -> GraphQLError:
    """The change feed's 410 Gone (docs/API.md): changes up to `pruned_through` were pruned."""
    return GraphQLError(
        f"Changes up to position {pruned_through} were pruned: your cursor may have missed"
        ' some. Resync: take `after: "now"`, make a new full copy, then follow the feed.',
        extensions={"code": CURSOR_EXPIRED, "argument": "after", "prunedThrough": pruned_through},
    )


def limit_exceeded(message: str, *, argument: str, maximum: int) -> GraphQLError:
    return GraphQLError(
        message, extensions={"code": LIMIT_EXCEEDED, "argument": argument, "max": maximum}
    )


def coded(error: GraphQLError) -> dict[str, Any]:
    """`error` formatted for the answer, with a code: its own, or one from what failed
    (a syntax error, a validation rule, a limit, an unexpected exception, whose message
    is not shown)."""
    formatted: dict[str, Any] = dict(error.formatted)
    extensions = dict(formatted.get("extensions") or {})
    if "code" not in extensions:
        original = error.original_error
        if original is not None and not isinstance(original, GraphQLError):
            extensions["code"] = INTERNAL_SERVER_ERROR
            formatted["message"] = "Internal server error"
        elif any(part in error.message for part in _LIMIT_MESSAGES):
            extensions["code"] = LIMIT_EXCEEDED
        elif error.message.startswith("Syntax Error"):
            extensions["code"] = GRAPHQL_PARSE_FAILED
        elif error.path is None:
            extensions["code"] = GRAPHQL_VALIDATION_FAILED
        else:
            extensions["code"] = BAD_USER_INPUT
    formatted["extensions"] = extensions
    return formatted
