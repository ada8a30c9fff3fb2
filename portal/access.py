"""Who may open a page, decided once for every page that needs it."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest

from accounts.models import Membership
from accounts.selectors import tenant_admin_membership


def signed_in_user(request: HttpRequest) -> User:
    """`request.user` on a page behind `login_required`: the signed-in user, typed as one
    (services record who acted, and an anonymous visitor cannot be that)."""
    user = request.user
    if not isinstance(user, User) or not user.is_authenticated:
        raise PermissionDenied("Sign in first")
    return user


def tenant_admin_or_404(request: HttpRequest) -> Membership:
    """The signed-in tenant admin's membership. Anyone else gets 404, not 403: to them the
    tenant's settings pages do not exist."""
    membership = tenant_admin_membership(request.user)
    if membership is None or not request.user.is_active:
        raise Http404("Only tenant admins manage this")
    return membership


def platform_admin_or_404(request: HttpRequest) -> User:
    """The signed-in platform admin. Anyone else (customer-service staff included) gets
    404: the platform's management pages do not exist for them."""
    user = signed_in_user(request)
    if not (user.is_superuser and user.is_active):
        raise Http404("Only platform admins manage this")
    return user
