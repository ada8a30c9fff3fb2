"""Request-scoped memory: who the signed-in user is (accounts.scoping.standing_of), and
what the operator's staff read, audited as one entry per request (accounts.audit)."""

from __future__ import annotations

import logging

from django.contrib.auth import logout
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, JsonResponse

from accounts.audit import staff_reads_audited_for_this_request, write_staff_reads
from accounts.authentication import bearer_secret
from accounts.scoping import standing_of, standings_remembered_for_this_request

logger = logging.getLogger(__name__)


class StandingPerRequestMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        with (
            standings_remembered_for_this_request(),
            staff_reads_audited_for_this_request(request) as staff_reads,
        ):
            response = self.get_response(request)
            try:
                # After the response is built, before it is sent (or, for the CSV
                # export, streamed): a staff look that cannot be recorded is not shown.
                write_staff_reads(staff_reads)
            except DatabaseError:
                logger.exception("staff read not audited; answer withheld: %s", request.path)
                response = JsonResponse(
                    {"error": "the service is temporarily unavailable; retry later"}, status=503
                )
                response["Retry-After"] = "5"
            return response


class InactiveTenantSignOutMiddleware:
    """Signs out, at their next request, the members of a deactivated tenant
    (accounts.services.tenants): the request goes on as anonymous, so pages send them to
    the sign-in page and the API answers 401/403. After StandingPerRequestMiddleware, whose
    remembered standing (membership with its tenant) the pages reuse: no extra query."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # A request with a bearer token is the token's (refused in accounts.authentication
        # when its tenant is inactive): its session, if any, plays no part.
        if bearer_secret(request) is not None:
            return self.get_response(request)
        user = request.user
        if user.is_authenticated:
            membership = standing_of(user).membership
            if membership is not None and not membership.tenant.is_active:
                logout(request)
        return self.get_response(request)
