"""How requests prove who they are: partner tokens (REST, GraphQL) and source tokens (intake)."""

from __future__ import annotations

from django.http import HttpRequest
from django.utils import timezone
from rest_framework import authentication, exceptions

from accounts.models import ApiToken, SourceSystem
from accounts.scoping import Actor, token_is_usable
from accounts.tokens import hash_secret


class PartnerPrincipal:
    """`request.user` for a partner token: authenticated, but not a person."""

    is_authenticated = True
    is_active = True
    is_staff = is_superuser = False
    is_anonymous = False

    def __init__(self, token: ApiToken) -> None:
        self.token = token
        self.pk = None
        self.username = f"token:{token.prefix}"

    def __str__(self) -> str:
        return self.username


def bearer_secret(request: HttpRequest) -> str | None:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        return None
    return secret.strip()


def api_token_from_request(request: HttpRequest) -> ApiToken | None:
    secret = bearer_secret(request)
    if secret is None:
        return None
    # A deactivated tenant's tokens are refused like unknown ones (accounts.services.tenants).
    token = ApiToken.objects.filter(token_hash=hash_secret(secret), tenant__is_active=True).first()
    if token is None or not token_is_usable(token):
        return None
    now = timezone.now()
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        ApiToken.objects.filter(id=token.id).update(last_used_at=now)
    return token


class PartnerTokenAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        if bearer_secret(request) is None:
            return None
        token = api_token_from_request(request)
        if token is None:
            raise exceptions.AuthenticationFailed("invalid, expired or revoked token")
        return PartnerPrincipal(token), token

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="api"'


def source_from_request(request: HttpRequest) -> SourceSystem | None:
    secret = bearer_secret(request)
    if secret is None:
        return None
    return SourceSystem.objects.filter(token_hash=hash_secret(secret), active=True).first()


def actor_from_request(request: HttpRequest) -> Actor:
    """The actor selectors scope by: a partner token if one was presented, else the user."""
    token = getattr(request, "auth", None)
    if isinstance(token, ApiToken):
        return token
    user = getattr(request, "user", None)
    if isinstance(user, PartnerPrincipal):
        return user.token
    return user
