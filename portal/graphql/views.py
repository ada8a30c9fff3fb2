"""The /graphql endpoint: a partner token or the browser session identifies the actor.

- Without valid credentials the answer is `401` problem+json (no data, no introspection);
  a bad token likewise. A session POST needs the CSRF token (a browser's form rule); a
  token POST is CSRF-exempt (no cookie is involved).
- Transport errors (bad JSON, no query, wrong method or content type) answer RFC 9457
  problem+json (`core/problems.py`); errors inside a GraphQL answer carry
  `extensions.code` (`portal/graphql/errors.py`).
- Automatic persisted queries (Apollo APQ): `extensions.persistedQuery.sha256Hash` names a
  query kept in the Django cache (`persisted.py`).
- GraphiQL is served to signed-in browsers only, from the project's own static files
  (`templates/graphql/graphiql.html`, `static/vendor/`).

What a document may ask (tokens, aliases, depth, cost) is limited in `limits.py`."""

from __future__ import annotations

from typing import Any

import orjson
from cross_web import HTTPException
from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.middleware.csrf import CsrfViewMiddleware
from django.template.loader import render_to_string
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_exempt
from strawberry.django.views import GraphQLView
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.types import ExecutionResult

from accounts.authentication import api_token_from_request, bearer_secret
from accounts.throttling import token_rate_charge
from core.problems import problem_response
from portal.graphql import persisted
from portal.graphql.errors import PERSISTED_QUERY_NOT_FOUND, coded

WWW_AUTHENTICATE = 'Bearer realm="api"'
_DJANGO_ENCODER = DjangoJSONEncoder()


def _no_response(request: HttpRequest) -> HttpResponse:
    """The middleware's next step and the view it checks: neither runs, and neither is
    exempt, so `process_view` answers only whether the request's CSRF token is valid."""
    return HttpResponse()


def _unauthenticated(detail: str) -> HttpResponse:
    return problem_response(
        401, detail=detail, slug="not-authenticated", headers={"WWW-Authenticate": WWW_AUTHENTICATE}
    )


@method_decorator(csrf_exempt, name="dispatch")
class PortalGraphQLView(GraphQLView):
    graphql_ide = "graphiql"

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        refused = self._authenticate(request)
        if refused is not None:
            return refused
        try:
            return self.run(request=request)
        except HTTPException as error:
            return problem_response(error.status_code, detail=error.reason)
        except persisted.Invalid as error:
            return problem_response(400, detail=str(error), slug="persisted-query-invalid")
        except persisted.NotFound:
            return HttpResponse(
                self.encode_json(
                    {
                        "data": None,
                        "errors": [
                            {
                                "message": "PersistedQueryNotFound",
                                "extensions": {"code": PERSISTED_QUERY_NOT_FOUND},
                            }
                        ],
                    }
                ),
                content_type="application/json",
            )

    def _authenticate(self, request: HttpRequest) -> HttpResponse | None:
        """A refusal, or None when the request may go on (the actor is then on it)."""
        if bearer_secret(request) is not None:
            token = api_token_from_request(request)
            if token is None:
                return _unauthenticated("Invalid, expired or revoked token.")
            # HttpRequest declares no `auth`; actor_from_request reads it as from DRF's Request.
            request.auth = token  # type: ignore[attr-defined]
            # One unit on arrival; portal/graphql/limits.py charges the rest of the cost.
            decision = token_rate_charge(token)
            if not decision.allowed:
                wait = decision.retry_after_seconds
                return problem_response(
                    429,
                    detail=f"Rate limit exceeded; retry in {wait} seconds.",
                    slug="rate-limited",
                    headers={"Retry-After": str(wait)},
                )
            return None
        if not request.user.is_authenticated:
            return _unauthenticated(
                "Send a partner token (`Authorization: Bearer <token>`) or sign in."
            )
        if request.method == "POST":
            # Session callers are browsers: they need the CSRF token like any form.
            rejected = CsrfViewMiddleware(_no_response).process_view(request, _no_response, (), {})
            if rejected is not None:
                return problem_response(
                    403,
                    detail="CSRF token missing or incorrect: send the `X-CSRFToken` header "
                    "with a session, or use a partner token.",
                    slug="csrf-failed",
                )
        return None

    def render_graphql_ide(self, request: HttpRequest) -> HttpResponse:
        return HttpResponse(render_to_string("graphql/graphiql.html", request=request))

    def encode_json(self, data: object) -> bytes:
        """orjson (UTF-8, compact), what strawberry's view writes with the standard
        library's encoder: a page of 100 shipments with nested lists is ~120 KB, ~1 ms
        less per page. What orjson does not know goes through Django's encoder."""
        return orjson.dumps(data, default=_DJANGO_ENCODER.default)

    def decode_json(self, data: str | bytes) -> object:
        decoded = super().decode_json(data)
        if not isinstance(decoded, dict | list):
            raise HTTPException(400, "The request body must be a JSON object.")
        return decoded

    def parse_http_body(self, request: Any) -> GraphQLRequestData | list[GraphQLRequestData]:
        parsed = super().parse_http_body(request)
        if isinstance(parsed, list):
            return [self._with_persisted_query(item) for item in parsed]
        return self._with_persisted_query(parsed)

    def _with_persisted_query(self, data: GraphQLRequestData) -> GraphQLRequestData:
        # An unknown hash raises persisted.NotFound: answered as a GraphQL error (Apollo
        # clients then send the query with its hash), not as a transport error.
        query = persisted.resolve(data.query, data.extensions)
        if query == data.query:
            return data
        return GraphQLRequestData(
            query=query,
            variables=data.variables,
            operation_name=data.operation_name,
            extensions=data.extensions,
            protocol=data.protocol,
        )

    def process_result(self, request: HttpRequest, result: ExecutionResult) -> GraphQLHTTPResponse:
        data: GraphQLHTTPResponse = {"data": result.data}
        if result.errors:
            data["errors"] = [coded(error) for error in result.errors]
        if result.extensions:
            data["extensions"] = result.extensions
        return data
