"""Request-scoped memory: who the signed-in user is (accounts.scoping.standing_of), and
what the operator's staff read, audited as one entry per request (accounts.audit); the
sign-out of a deactivated tenant's members; the second-factor step after the password."""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from django.contrib.auth import logout
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse

from accounts.audit import staff_reads_audited_for_this_request, write_staff_reads
from accounts.authentication import bearer_secret
from accounts.scoping import standing_of, standings_remembered_for_this_request
from accounts.second_factor import VERIFY, second_factor_step
from core.problems import problem_response

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


# Reachable before the second factor: its own pages, signing out, and what needs no user.
BEFORE_SECOND_FACTOR = ("/account/second-factor/", "/logout/", "/static/", "/healthz")


class SecondFactorMiddleware:
    """Until a session that needs it is verified (accounts.second_factor), only the
    second-factor pages answer: pages redirect there, the JSON API answers 401.
    After django_otp's OTPMiddleware (which gives `request.user.is_verified`)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if bearer_secret(request) is not None or request.path.startswith(BEFORE_SECOND_FACTOR):
            return self.get_response(request)
        step = second_factor_step(request)
        if step is None:
            return self.get_response(request)
        if request.path.startswith("/api/") or request.path.startswith("/graphql"):
            return problem_response(
                401,
                detail="Verify your second factor on the portal first.",
                slug="second-factor-required",
            )
        page = "second-factor-verify" if step == VERIFY else "second-factor"
        return redirect(f"{reverse(page)}?{urlencode({'next': request.get_full_path()})}")
