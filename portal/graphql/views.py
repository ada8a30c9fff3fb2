"""The /graphql endpoint: a partner token or the browser session identifies the actor.

What a document may ask (tokens, aliases, depth, cost) is limited in `limits.py`."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.middleware.csrf import CsrfViewMiddleware
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_exempt
from strawberry.django.views import GraphQLView

from accounts.authentication import api_token_from_request, bearer_secret
from accounts.throttling import token_rate_charge


def _no_response(request: HttpRequest) -> HttpResponse:
    """The middleware's next step and the view it checks: neither runs, and neither is
    exempt, so `process_view` answers only whether the request's CSRF token is valid."""
    return HttpResponse()


@method_decorator(csrf_exempt, name="dispatch")
class PortalGraphQLView(GraphQLView):
    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if bearer_secret(request) is not None:
            token = api_token_from_request(request)
            if token is None:
                response = JsonResponse({"error": "invalid, expired or revoked token"}, status=401)
                response["WWW-Authenticate"] = 'Bearer realm="api"'
                return response
            # HttpRequest declares no `auth`; actor_from_request reads it as from DRF's Request.
            request.auth = token  # type: ignore[attr-defined]
            # One unit on arrival; portal/graphql/limits.py charges the rest of the cost.
            decision = token_rate_charge(token)
            if not decision.allowed:
                wait = decision.retry_after_seconds
                response = JsonResponse(
                    {"error": f"rate limit exceeded; retry in {wait} seconds"}, status=429
                )
                response["Retry-After"] = str(wait)
                return response
        elif request.method == "POST":
            # Session callers are browsers: they need the CSRF token like any form.
            rejected = CsrfViewMiddleware(_no_response).process_view(request, _no_response, (), {})
            if rejected is not None:
                return rejected
        return super().dispatch(request, *args, **kwargs)
