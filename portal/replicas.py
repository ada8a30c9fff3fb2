"""Opens the router's read context for each page and API request (core/db_router.py):
GET and HEAD may read the read models from a replica; after a request that wrote one,
its actor (a user, or a partner token) is pinned to the primary for REPLICA_PIN_SECONDS,
so they read their own writes."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest
from django.http.response import HttpResponseBase

from accounts.authentication import PartnerPrincipal
from core.db_router import pin_to_primary, replica_aliases, replica_reads_for_request

READ_METHODS = frozenset({"GET", "HEAD"})


def actor_key_of(request: HttpRequest) -> str | None:
    """Whose writes the request makes: the partner token or the signed-in user."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None
    if isinstance(user, PartnerPrincipal):
        return f"token:{user.token.pk}"
    return f"user:{user.pk}"


class ReplicaReadMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if not replica_aliases():
            return self.get_response(request)
        with replica_reads_for_request(
            lambda: actor_key_of(request), eligible=request.method in READ_METHODS
        ) as reads:
            response = self.get_response(request)
        if reads.wrote_read_model and (actor_key := actor_key_of(request)) is not None:
            pin_to_primary(actor_key)
        return response
