"""The one place that decides which customer accounts an actor may see.

An actor is a signed-in user or a partner API token. Every selector over tenant data
filters by `visible_account_ids(actor, scope)` (DESIGN.md decision 4); entitlements are
per customer account, never per shipment.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
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

Actor = AbstractBaseUser | AnonymousUser | ApiToken | None


def token_is_usable(token: ApiToken) -> bool:
    return token.revoked_at is None and (
        token.expires_at is None or token.expires_at > timezone.now()
    )


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
        ).values("id")
    if actor is None or not actor.is_authenticated or not actor.is_active:
        return nothing
    if actor.is_superuser:
        return owned.values("id")
    staff = StaffProfile.objects.filter(user=actor).first()
    if staff is not None:
        if staff.all_tenants:
            return owned.values("id")
        return owned.filter(tenant__in=staff.tenants.all()).values("id")
    membership = Membership.objects.filter(user=actor).first()
    if membership is None:
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
