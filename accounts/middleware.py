"""Request-scoped memory of who the signed-in user is (accounts.scoping.standing_of)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from accounts.scoping import standings_remembered_for_this_request


class StandingPerRequestMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        with standings_remembered_for_this_request():
            return self.get_response(request)
