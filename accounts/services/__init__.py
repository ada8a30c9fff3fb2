"""Writes about who is who: tenants and their accounts, users, sources, partner tokens."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone
from guardian.shortcuts import assign_perm

from accounts.audit import audit_record
from accounts.models import (
    ApiToken,
    AuditAction,
    CustomerAccount,
    CustomerAccountUserObjectPermission,
    Membership,
    Role,
    SourceRole,
    SourceSystem,
    StaffProfile,
    Tenant,
    TokenScope,
)
from accounts.scoping import standing_changed
from accounts.services.members import (
    InvitationUnusable,
    invitation_accept,
    invitation_create,
    invitation_email_send,
    invitation_revoke,
    membership_change_refusal,
    membership_create,
    membership_set_active,
    membership_update,
    tenant_second_factor_require,
)
from accounts.signals import accounts_assigned
from accounts.tokens import hash_secret, new_secret

__all__ = [
    "InvitationUnusable",
    "api_token_create",
    "api_token_revoke",
    "customer_account_save",
    "invitation_accept",
    "invitation_create",
    "invitation_email_send",
    "invitation_revoke",
    "membership_change_refusal",
    "membership_create",
    "membership_set_active",
    "membership_update",
    "source_create",
    "tenant_create_or_update",
    "tenant_second_factor_require",
    "user_create",
]


def tenant_create_or_update(*, slug: str, name: str, account_numbers: Iterable[str]) -> Tenant:
    """Create the tenant (or rename it) and assign it the given ERP accounts.

    Events held because nobody owned these accounts are released for processing.
    """
    numbers = sorted({number.strip() for number in account_numbers if number.strip()})
    with transaction.atomic():
        tenant, _ = Tenant.objects.update_or_create(slug=slug, defaults={"name": name})
        for number in numbers:
            account, _ = CustomerAccount.objects.select_related("tenant").get_or_create(
                number=number
            )
            if account.tenant is not None and account.tenant_id != tenant.id:
                raise ValueError(f"account {number} already belongs to {account.tenant.slug}")
            if account.tenant_id is None:
                account.tenant = tenant
                account.save(update_fields=["tenant"])
        accounts_assigned.send(sender=Tenant, account_numbers=set(numbers))
    return tenant


def source_create(
    *, key: str, role: str, account_numbers: Iterable[str] = ()
) -> tuple[SourceSystem, str]:
    """Register a source system with its role and, optionally, the only customer accounts
    it may send events for (or re-register it: new token, role and accounts); return it
    with its new token. The accounts need not exist yet."""
    if role not in SourceRole.values:
        raise ValueError(f"unknown role {role!r}; one of {', '.join(SourceRole.values)}")
    numbers = sorted({number.strip() for number in account_numbers if number.strip()})
    secret = new_secret(f"src_{key}")
    source, _ = SourceSystem.objects.update_or_create(
        key=key,
        defaults={
            "token_hash": hash_secret(secret),
            "active": True,
            "role": role,
            "account_numbers": numbers,
        },
    )
    return source, secret


def api_token_create(
    *,
    tenant: Tenant,
    name: str,
    scopes: Iterable[str] = (),
    account_numbers: Iterable[str] = (),
    expires_at: datetime | None = None,
    created_by: User | None = None,
) -> tuple[ApiToken, str]:
    """Issue a partner token; the secret is returned once and never stored."""
    scopes = sorted(set(scopes))
    unknown = set(scopes) - set(TokenScope.values)
    if unknown:
        raise ValueError(f"unknown scopes: {', '.join(sorted(unknown))}")
    secret = new_secret("svp")
    with transaction.atomic():
        token = ApiToken.objects.create(
            tenant=tenant,
            name=name,
            prefix=secret[:10],
            token_hash=hash_secret(secret),
            scopes=scopes,
            expires_at=expires_at,
            created_by=created_by,
        )
        numbers = list(account_numbers)
        if numbers:
            accounts = list(CustomerAccount.objects.filter(tenant=tenant, number__in=numbers))
            if len(accounts) != len(set(numbers)):
                raise ValueError("every limited account must belong to the token's tenant")
            token.accounts.set(accounts)
        audit_record(
            action=AuditAction.TOKEN_CREATED,
            actor=created_by if created_by is not None else "system",
            tenant=tenant,
            target=f"token:{token.prefix}",
            details={
                "name": name,
                "scopes": scopes,
                "accounts": sorted(numbers),
                "expires_at": expires_at.isoformat() if expires_at else None,
            },
        )
    return token, secret


def api_token_revoke(*, token: ApiToken, revoked_by: User) -> ApiToken:
    with transaction.atomic():
        if token.revoked_at is None:
            token.revoked_at = timezone.now()
            token.save(update_fields=["revoked_at"])
            audit_record(
                action=AuditAction.TOKEN_REVOKED,
                actor=revoked_by,
                tenant=token.tenant_id,
                target=f"token:{token.prefix}",
            )
    return token


def user_create(
    *,
    username: str,
    password: str,
    email: str = "",
    tenant: Tenant | None = None,
    role: str = Role.MEMBER,
    account_numbers: Iterable[str] = (),
    finance: bool = False,
    staff_tenants: Iterable[Tenant] | None = None,
    staff_all_tenants: bool = False,
    platform_admin: bool = False,
) -> User:
    """Create (or update) a user with one role: tenant member/admin, staff or platform admin.

    A member given `account_numbers` sees only those accounts (guardian object
    permissions); without them the member sees all the tenant's accounts.
    """
    with transaction.atomic():
        user, _ = User.objects.get_or_create(username=username, defaults={"email": email})
        user.email = email or user.email
        user.set_password(password)
        user.is_superuser = user.is_staff = platform_admin
        user.save()
        if tenant is not None:
            numbers = list(account_numbers)
            Membership.objects.update_or_create(
                user=user,
                defaults={
                    "tenant": tenant,
                    "role": role,
                    "all_accounts": not numbers,
                    "finance": finance or role == Role.TENANT_ADMIN,
                },
            )
            for account in CustomerAccount.objects.filter(tenant=tenant, number__in=numbers):
                assign_perm("accounts.view_customeraccount", user, account)
                if finance:
                    assign_perm("accounts.view_finance", user, account)
        if staff_tenants is not None or staff_all_tenants:
            profile, _ = StaffProfile.objects.update_or_create(
                user=user, defaults={"all_tenants": staff_all_tenants}
            )
            profile.tenants.set(list(staff_tenants or []))
        standing_changed(user.pk)
    return user


# --- Platform admins ----------------------------------------------------------------------------


def customer_account_save(*, account: CustomerAccount) -> CustomerAccount:
    """Save an account as a platform admin edited it. Assigning it to a tenant releases the
    events held for it; moving it to another tenant drops the old tenant's users' grants."""
    with transaction.atomic():
        account.save()
        grants = CustomerAccountUserObjectPermission.objects.filter(content_object=account)
        if account.tenant_id is not None:
            grants = grants.exclude(user__membership__tenant_id=account.tenant_id)
        grants.delete()  # an account no tenant owns: nobody keeps a grant on it
        if account.tenant_id is not None:
            accounts_assigned.send(sender=CustomerAccount, account_numbers={account.number})
    return account
