"""Integration health for staff and platform admins as JSON (the page: portal/platform_views.py).

The JSON endpoint is a DRF view so it answers like the rest of the API: without
credentials a 401 problem (with `WWW-Authenticate`), for a partner token a 403 problem (a
token belongs to a tenant and never reads the operator's figures), for a signed-in user
who is not an operator a 404, as the operations page does.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import ApiToken
from accounts.scoping import is_operator
from core.api_schema import problem_responses
from integration.selectors import integration_health


class IntegrationHealthApi(APIView):
    @extend_schema(
        operation_id="integration_health",
        summary="Integration health (operators only)",
        description=(
            "Inbox depth and lag, events per minute, held, rejected, dead letters, "
            "freshness per source, unknown status codes. Staff and platform admins only, "
            "signed in (session): a partner token is refused with 403, another signed-in "
            "user gets 404."
        ),
        tags=["operations"],
        responses={
            200: OpenApiResponse(
                response={"type": "object", "additionalProperties": True},
                description="The health figures.",
            ),
            **problem_responses(401, 403, 404, 429, 503),
        },
    )
    def get(self, request: Request) -> Response:
        if isinstance(request.auth, ApiToken):
            raise exceptions.PermissionDenied(
                "Integration health is for the operator's staff (signed in), not partner tokens."
            )
        if not is_operator(request.user):
            raise exceptions.NotFound()
        return Response(integration_health())
