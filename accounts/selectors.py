"""Reads about who is who, for the admin pages."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from django.contrib.auth.models import User
from django.db.models import Count, Prefetch, Q, QuerySet
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import (
    ApiToken,
    AuditEntry,
    CustomerAccount,
    CustomerAccountUserObjectPermission,
    Invitation,
    Membership,
    SourceSystem,
    StaffProfile,
    Tenant,
    UserPreferences,
)
from accounts.tokens import hash_secret


def membership_of(user) -> Membership | None:
    return Membership.objects.filter(user=user).select_related("tenant").first()


def tenant_admin_membership(user) -> Membership | None:
    membership = membership_of(user)
    if membership is None or membership.role != "tenant_admin":
        return None
    return membership


def api_tokens_of_tenant(tenant_id: int) -> QuerySet[ApiToken]:
    return (
        ApiToken.objects.filter(tenant_id=tenant_id)
        .prefetch_related("accounts")
        .order_by("-created_at")
    )


def accounts_of_tenant(tenant_id: int) -> QuerySet[CustomerAccount]:
    return CustomerAccount.objects.filter(tenant_id=tenant_id).order_by("number")


def audit_entries(*, tenant_id: int | None, limit: int = 200) -> QuerySet[AuditEntry]:
    """A tenant's entries, or (tenant_id None: platform admins) everyone's. A tenant's
    include the operator's staff looks that touched several tenants, theirs among them, or
    any tenant (a list read by staff serving every tenant: accounts.audit)."""
    entries = AuditEntry.objects.order_by("-occurred_at", "-id")
    if tenant_id is not None:
        entries = entries.filter(
            Q(tenant_id=tenant_id)
            | Q(tenant__isnull=True, details__contains={"tenant_ids": [tenant_id]})
            | Q(tenant__isnull=True, details__contains={"all_tenants": True})
        )
    return entries[:limit]


@dataclass(frozen=True)
class MemberRow:
    membership: Membership
    accounts: list[str]
    finance_accounts: list[str]


def _member_rows(memberships: QuerySet[Membership], tenant_id: int) -> list[MemberRow]:
    members = list(memberships.select_related("user").order_by("user__username"))
    grants: dict[tuple[int, str], list[str]] = defaultdict(list)
    for user_id, codename, number in (
        CustomerAccountUserObjectPermission.objects.filter(
            user_id__in=[membership.user_id for membership in members],
            content_object__tenant_id=tenant_id,
        )
        .order_by("content_object__number")
        .values_list("user_id", "permission__codename", "content_object__number")
    ):
        grants[(user_id, codename)].append(number)
    return [
        MemberRow(
            membership=membership,
            accounts=grants[(membership.user_id, "view_customeraccount")],
            finance_accounts=grants[(membership.user_id, "view_finance")],
        )
        for membership in members
    ]


def members_of_tenant(tenant_id: int) -> list[MemberRow]:
    """The tenant's users with their per-account grants (for the members page)."""
    return _member_rows(Membership.objects.filter(tenant_id=tenant_id), tenant_id)


def member_of_tenant(tenant_id: int, membership_id: int) -> MemberRow | None:
    """One of the tenant's users; another tenant's member is None (the page answers 404)."""
    rows = _member_rows(Membership.objects.filter(tenant_id=tenant_id, id=membership_id), tenant_id)
    return rows[0] if rows else None


def pending_invitations_of_tenant(tenant_id: int) -> QuerySet[Invitation]:
    return (
        Invitation.objects.filter(
            tenant_id=tenant_id,
            accepted_at__isnull=True,
            revoked_at__isnull=True,
            expires_at__gt=timezone.now(),
        )
        .prefetch_related("accounts")
        .order_by("-created_at")
    )


def invitation_by_token(secret: str) -> Invitation | None:
    return (
        Invitation.objects.filter(token_hash=hash_secret(secret)).select_related("tenant").first()
    )


def api_token_of_tenant(tenant_id: int, token_id: int) -> ApiToken | None:
    """One of the tenant's tokens; another tenant's is None (the page answers 404)."""
    return api_tokens_of_tenant(tenant_id).filter(id=token_id).first()


def pending_invitation_of_tenant(tenant_id: int, invitation_id: int) -> Invitation | None:
    return pending_invitations_of_tenant(tenant_id).filter(id=invitation_id).first()


def user_time_zone(user: User) -> str:
    """The user's chosen time zone, or "" when none is chosen yet."""
    return (
        UserPreferences.objects.filter(user_id=user.pk).values_list("time_zone", flat=True).first()
        or ""
    )


# --- platform admins ------------------------------------------------------------------------


def tenants_with_accounts() -> QuerySet[Tenant]:
    """Every tenant with its accounts (prefetched) and its number of members."""
    return (
        Tenant.objects.annotate(member_count=Count("memberships", distinct=True))
        .prefetch_related(Prefetch("accounts", queryset=CustomerAccount.objects.order_by("number")))
        .order_by("name")
    )


def unassigned_accounts() -> QuerySet[CustomerAccount]:
    """Accounts events named that no tenant owns yet (their events are held)."""
    return CustomerAccount.objects.filter(tenant__isnull=True).order_by("number")


def source_systems() -> QuerySet[SourceSystem]:
    return SourceSystem.objects.order_by("key")


def audit_entries_for_target(target: str, *, limit: int = 50) -> QuerySet[AuditEntry]:
    """What was done to one thing (a dead letter's `source:event_id`), newest first."""
    return AuditEntry.objects.filter(target=target).order_by("-occurred_at", "-id")[:limit]


def staff_profiles() -> QuerySet[StaffProfile]:
    """Customer-service staff with the tenants they serve (prefetched)."""
    return (
        StaffProfile.objects.select_related("user")
        .prefetch_related(Prefetch("tenants", queryset=Tenant.objects.order_by("name")))
        .order_by("user__username")
    )


# --- second factor (django-otp devices) ------------------------------------------------------


def confirmed_totp_device(user: User) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).order_by("id").first()


def unconfirmed_totp_device(user: User) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-id").first()


def recovery_device(user: User) -> StaticDevice | None:
    return StaticDevice.objects.filter(user=user, confirmed=True).order_by("id").first()


def recovery_codes_left(user: User) -> int:
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


def has_second_factor(user: User) -> bool:
    return (
        TOTPDevice.objects.filter(user=user, confirmed=True).exists()
        or StaticToken.objects.filter(device__user=user, device__confirmed=True).exists()
    )
