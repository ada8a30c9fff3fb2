"""The one place that decides which customer accounts an actor may see.

An actor is a signed-in user or a partner API token. Every selector over tenant data
filters by `visible_account_ids(actor, scope)` (docs/ARCHITECTURE.md, decision 4); entitlements are
per customer account, never per shipment.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import Exists, Q, QuerySet
from django.utils import timezone

from accounts.models import (
    ApiToken,
    CustomerAccount,
    CustomerAccountUserObjectPermission,
    Membership,
    Role,
    StaffProfile,
    TokenScope,
)

Actor = User | AnonymousUser | ApiToken | None


def token_is_usable(token: ApiToken) -> bool:
    return token.revoked_at is None and (
        token.expires_at is None or token.expires_at > timezone.now()
    )


@dataclass(frozen=True)
class Standing:
    """Who a signed-in user is to the portal: operator staff, a tenant's member, or neither."""

    staff: StaffProfile | None
    membership: Membership | None


# Standings read during the current request, by user id (None outside a request).
_standings: ContextVar[dict[int, Standing] | None] = ContextVar("standings", default=None)


@contextmanager
def standings_remembered_for_this_request() -> Iterator[None]:
    """A page asks who its user is several times (scoping per scope, audit, menus); within
    one request one lookup answers them all. Outside a request nothing is remembered."""
    token = _standings.set({})
    try:
        yield
    finally:
        _standings.reset(token)


def standing_of(user: User | AnonymousUser) -> Standing:
    if not user.is_authenticated:
        return Standing(None, None)
    remembered = _standings.get()
    if remembered is not None and user.pk in remembered:
        return remembered[user.pk]
    standing = Standing(
        StaffProfile.objects.filter(user=user).first(),
        # The tenant comes along: every request checks it is active (accounts.middleware).
        Membership.objects.filter(user=user).select_related("tenant").first(),
    )
    if remembered is not None:
        remembered[user.pk] = standing
    return standing


def standing_changed(user_id: int) -> None:
    """Called by the services that change a membership or staff profile."""
    remembered = _standings.get()
    if remembered is not None:
        remembered.pop(user_id, None)


def is_operator(actor: Actor) -> bool:
    """The operator's own people (customer-service staff, platform admins), not a tenant's
    users nor a partner token: they open the operations pages, and their looks at a
    tenant's data are audited."""
    if isinstance(actor, ApiToken) or actor is None or not actor.is_authenticated:
        return False
    return bool(actor.is_superuser or standing_of(actor).staff is not None)


def visible_account_ids(actor: Actor, scope: str = TokenScope.SHIPMENTS) -> QuerySet:
    """A subquery of the CustomerAccount ids `actor` may read in `scope`."""
    owned = CustomerAccount.objects.filter(tenant__isnull=False)
    nothing = CustomerAccount.objects.none().values("id")
    if isinstance(actor, ApiToken):
        if not token_is_usable(actor) or (actor.scopes and scope not in actor.scopes):
            return nothing
        limited_to = ApiToken.accounts.through.objects.filter(apitoken_id=actor.id)
        # No accounts listed means all of the tenant's (decided in SQL: no extra query).
        return owned.filter(
            Q(id__in=limited_to.values("customeraccount_id")) | ~Exists(limited_to),
            tenant_id=actor.tenant_id,
            tenant__is_active=True,
        ).values("id")
    if actor is None or not actor.is_authenticated or not actor.is_active:
        return nothing
    if actor.is_superuser:
        return owned.values("id")
    standing = standing_of(actor)
    staff = standing.staff
    if staff is not None:
        if staff.all_tenants:
            return owned.values("id")
        return owned.filter(tenant__in=staff.tenants.all()).values("id")
    membership = standing.membership
    if membership is None or not membership.tenant.is_active:
        return nothing
    accounts = owned.filter(tenant_id=membership.tenant_id)
    if membership.role == Role.TENANT_ADMIN:
        return accounts.values("id")
    finance = scope == TokenScope.INVOICES
    if membership.all_accounts and (not finance or membership.finance):
        return accounts.values("id")
    codename = "view_finance" if finance else "view_customeraccount"
    granted = CustomerAccountUserObjectPermission.objects.filter(
        user=actor, permission__codename=codename
    ).values("content_object_id")
    return accounts.filter(id__in=granted).values("id")
