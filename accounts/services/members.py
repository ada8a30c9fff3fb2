"""Writes about a tenant's users: invitations (create, accept, revoke) and memberships
(role, account grants through guardian, finance, active), each audited."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.contrib.auth.base_user import BaseUserManager
from django.contrib.auth.models import User
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from guardian.shortcuts import assign_perm, remove_perm

from accounts.audit import audit_record
from accounts.models import (
    AuditAction,
    CustomerAccount,
    CustomerAccountUserObjectPermission,
    Invitation,
    InvitationState,
    Membership,
    Role,
    Tenant,
)
from accounts.scoping import standing_changed
from accounts.tokens import hash_secret, new_secret


class InvitationUnusable(Exception):
    """The invitation link cannot be used; `state` says why (accepted, revoked, expired)."""

    def __init__(self, state: InvitationState) -> None:
        super().__init__(f"invitation {state.label.lower()}")
        self.state = state


def _user_of_email(email: str) -> User | None:
    return (
        User.objects.filter(Q(email__iexact=email) | Q(username__iexact=email))
        .select_related("membership")
        .first()
    )


def _email_taken_message(email: str, tenant: Tenant) -> str | None:
    """Why `email` cannot join `tenant`, or None. One user belongs to one tenant.

    Said to the invitee (who owns the address) on accepting; a tenant admin inviting is
    told only about the tenant's own members (`invitation_create`)."""
    user = _user_of_email(email)
    if user is None:
        return None
    membership = getattr(user, "membership", None)
    if membership is not None and membership.tenant_id == tenant.id:
        return f"{email} is already a member of {tenant.name}."
    return f"{email} already has a portal account elsewhere and cannot join {tenant.name}."


def _tenant_accounts(tenant: Tenant, account_numbers: Iterable[str]) -> list[CustomerAccount]:
    numbers = {number for number in account_numbers if number}
    accounts = list(CustomerAccount.objects.filter(tenant=tenant, number__in=numbers))
    if len(accounts) != len(numbers):
        raise ValueError("Every selected account must belong to your tenant.")
    return sorted(accounts, key=lambda account: account.number)


def _entitlement(
    *,
    tenant: Tenant,
    role: str,
    all_accounts: bool,
    account_numbers: Iterable[str],
    finance: bool,
) -> tuple[bool, list[CustomerAccount], bool]:
    """Check a requested entitlement; return (all_accounts, accounts, finance) to store.
    Tenant admins see every account and its finance (as `visible_account_ids` decides)."""
    if role not in Role.values:
        raise ValueError("Unknown role.")
    if role == Role.TENANT_ADMIN:
        return True, [], True
    accounts = [] if all_accounts else _tenant_accounts(tenant, account_numbers)
    if not all_accounts and not accounts:
        raise ValueError("Choose at least one account, or all accounts.")
    return all_accounts, accounts, finance


def invitation_create(
    *,
    tenant: Tenant,
    email: str,
    role: str = Role.MEMBER,
    all_accounts: bool = True,
    account_numbers: Iterable[str] = (),
    finance: bool = False,
    invited_by: User,
    request: HttpRequest | None = None,
) -> tuple[Invitation, str]:
    """Invite `email` into `tenant`; the invitation email carries the secret link token,
    which is returned once and never stored.

    An address that already has a portal user outside this tenant (another tenant's
    member, staff) is answered exactly like a new one, so that a tenant admin cannot learn
    who uses the portal elsewhere: the invitation is recorded, audited and listed as
    pending like any other, but its owner gets an email without a link saying that the
    address already has an account and that one account belongs to one company
    (`emails/invitation_existing.txt`). The invitation then stays pending until it expires
    or is revoked, like an unanswered one. Only this tenant's own members are refused.
    """
    email = BaseUserManager.normalize_email(email.strip())
    try:
        validate_email(email)
    except ValidationError as invalid:
        raise ValueError("Enter a valid email address.") from invalid
    existing = _user_of_email(email)
    existing_membership = getattr(existing, "membership", None) if existing else None
    if existing_membership is not None and existing_membership.tenant_id == tenant.id:
        raise ValueError(f"{email} is already a member of {tenant.name}.")
    has_account_elsewhere = existing is not None
    all_accounts, accounts, finance = _entitlement(
        tenant=tenant,
        role=role,
        all_accounts=all_accounts,
        account_numbers=account_numbers,
        finance=finance,
    )
    pending = Invitation.objects.filter(
        tenant=tenant,
        email__iexact=email,
        accepted_at__isnull=True,
        revoked_at__isnull=True,
        expires_at__gt=timezone.now(),
    )
    if pending.exists():
        raise ValueError(f"{email} already has a pending invitation; revoke it to send a new one.")
    secret = new_secret("inv")
    with transaction.atomic():
        invitation = Invitation.objects.create(
            tenant=tenant,
            email=email,
            role=role,
            all_accounts=all_accounts,
            finance=finance,
            token_hash=hash_secret(secret),
            invited_by=invited_by,
            expires_at=timezone.now() + settings.INVITATION_TTL,
        )
        invitation.accounts.set(accounts)
        audit_record(
            action=AuditAction.USER_INVITED,
            actor=invited_by,
            tenant=tenant,
            target=f"invitation:{invitation.id}",
            request=request,
            details={
                "email": email,
                "role": role,
                "all_accounts": all_accounts,
                "accounts": [account.number for account in accounts],
                "finance": finance,
                "expires_at": invitation.expires_at.isoformat(),
            },
        )

        # robust: a mail server that is down must not turn a recorded invitation into a 500;
        # the admin sees it pending without the email and can revoke and re-invite.
        def send_invitation_email() -> None:  # a function: robust hooks log __qualname__
            if has_account_elsewhere:
                invitation_existing_account_email_send(invitation=invitation)
            else:
                invitation_email_send(invitation=invitation, secret=secret)

        transaction.on_commit(send_invitation_email, robust=True)
    return invitation, secret


def invitation_email_send(*, invitation: Invitation, secret: str) -> None:
    link = settings.PORTAL_BASE_URL.rstrip("/") + reverse("invitation-accept", args=[secret])
    context = {"invitation": invitation, "tenant": invitation.tenant, "link": link}
    message = EmailMultiAlternatives(
        subject=f"You are invited to {invitation.tenant.name} on the shipment portal",
        body=render_to_string("emails/invitation.txt", context),
        to=[invitation.email],
    )
    message.attach_alternative(render_to_string("emails/invitation.html", context), "text/html")
    message.send()


def invitation_existing_account_email_send(*, invitation: Invitation) -> None:
    """To an invited address that already has a portal account: no link, an explanation."""
    context = {"invitation": invitation, "tenant": invitation.tenant}
    message = EmailMultiAlternatives(
        subject=f"You are invited to {invitation.tenant.name} on the shipment portal",
        body=render_to_string("emails/invitation_existing.txt", context),
        to=[invitation.email],
    )
    message.send()


def invitation_revoke(
    *, invitation: Invitation, revoked_by: User, request: HttpRequest | None = None
) -> Invitation:
    with transaction.atomic():
        invitation = Invitation.objects.select_for_update().get(id=invitation.id)
        if invitation.state(timezone.now()) == InvitationState.PENDING:
            invitation.revoked_at = timezone.now()
            invitation.save(update_fields=["revoked_at"])
            audit_record(
                action=AuditAction.INVITATION_REVOKED,
                actor=revoked_by,
                tenant=invitation.tenant_id,
                target=f"invitation:{invitation.id}",
                request=request,
                details={"email": invitation.email},
            )
    return invitation


def invitation_accept(
    *,
    invitation: Invitation,
    first_name: str,
    last_name: str,
    password: str,
    request: HttpRequest | None = None,
) -> User:
    """Create the invited user with exactly the invited role and grants, once.

    Raises InvitationUnusable (used, revoked, expired), ValueError (the email meanwhile
    belongs to a user) or ValidationError (the password fails the validators); in every
    case nothing is created.
    """
    with transaction.atomic():
        invitation = (
            Invitation.objects.select_for_update().select_related("tenant").get(id=invitation.id)
        )
        state = invitation.state(timezone.now())
        if state != InvitationState.PENDING:
            raise InvitationUnusable(state)
        taken = _email_taken_message(invitation.email, invitation.tenant)
        if taken:
            raise ValueError(taken)
        user = User(
            username=invitation.email,
            email=invitation.email,
            first_name=first_name.strip()[:150],
            last_name=last_name.strip()[:150],
        )
        validate_password(password, user)
        user.set_password(password)
        try:
            with transaction.atomic():
                user.save()
        except IntegrityError as taken_meanwhile:
            raise ValueError(f"{invitation.email} already has a portal account.") from (
                taken_meanwhile
            )
        accounts = list(invitation.accounts.all())
        Membership.objects.create(
            user=user,
            tenant=invitation.tenant,
            role=invitation.role,
            all_accounts=invitation.all_accounts,
            finance=invitation.finance,
        )
        _grants_sync(
            user=user,
            tenant_id=invitation.tenant_id,
            all_accounts=invitation.all_accounts,
            accounts=accounts,
            finance=invitation.finance,
        )
        invitation.accepted_at = timezone.now()
        invitation.accepted_user = user
        invitation.save(update_fields=["accepted_at", "accepted_user"])
        audit_record(
            action=AuditAction.INVITATION_ACCEPTED,
            actor=user,
            tenant=invitation.tenant_id,
            target=f"invitation:{invitation.id}",
            request=request,
            details={
                "role": invitation.role,
                "all_accounts": invitation.all_accounts,
                "accounts": sorted(account.number for account in accounts),
                "finance": invitation.finance,
            },
        )
    return user


def _grants_sync(
    *,
    user: User,
    tenant_id: int,
    all_accounts: bool,
    accounts: list[CustomerAccount],
    finance: bool,
) -> None:
    """Make the user's guardian grants on the tenant's accounts match the entitlement:
    per-account grants exist only for members limited to selected accounts."""
    selected = set() if all_accounts else {account.id for account in accounts}
    for account in CustomerAccount.objects.filter(tenant_id=tenant_id):
        wanted = {
            "view_customeraccount": account.id in selected,
            "view_finance": finance and account.id in selected,
        }
        for codename, granted in wanted.items():
            if granted:
                assign_perm(f"accounts.{codename}", user, account)
            else:
                remove_perm(f"accounts.{codename}", user, account)


def _entitlement_snapshot(membership: Membership) -> dict[str, Any]:
    granted = CustomerAccountUserObjectPermission.objects.filter(
        user_id=membership.user_id, content_object__tenant_id=membership.tenant_id
    )
    return {
        "role": membership.role,
        "all_accounts": membership.all_accounts,
        "accounts": sorted(
            granted.filter(permission__codename="view_customeraccount").values_list(
                "content_object__number", flat=True
            )
        ),
        "finance": membership.finance,
        "active": membership.user.is_active,
    }


def _refuse_leaving_no_admin(membership: Membership, *, role: str, active: bool) -> None:
    if membership.role != Role.TENANT_ADMIN or (role == Role.TENANT_ADMIN and active):
        return
    other_admins = Membership.objects.filter(
        tenant_id=membership.tenant_id, role=Role.TENANT_ADMIN, user__is_active=True
    ).exclude(id=membership.id)
    if not other_admins.exists():
        raise ValueError("The tenant must keep at least one active tenant admin.")


def membership_change_refusal(
    *,
    membership: Membership,
    role: str,
    all_accounts: bool,
    account_numbers: Iterable[str],
    active: bool,
) -> str | None:
    """Why `membership_update` / `membership_set_active` would refuse this change, or None
    (for forms that show the reason next to the fields)."""
    try:
        _entitlement(
            tenant=membership.tenant,
            role=role,
            all_accounts=all_accounts,
            account_numbers=account_numbers,
            finance=False,
        )
        _refuse_leaving_no_admin(membership, role=role, active=active)
    except ValueError as refused:
        return str(refused)
    return None


def membership_update(
    *,
    membership: Membership,
    role: str,
    all_accounts: bool,
    account_numbers: Iterable[str],
    finance: bool,
    changed_by: User,
    request: HttpRequest | None = None,
) -> Membership:
    """Change a member's role and entitlements (guardian grants on customer accounts)."""
    with transaction.atomic():
        membership = (
            Membership.objects.select_for_update()
            .select_related("user", "tenant")
            .get(id=membership.id)
        )
        all_accounts, accounts, finance = _entitlement(
            tenant=membership.tenant,
            role=role,
            all_accounts=all_accounts,
            account_numbers=account_numbers,
            finance=finance,
        )
        _refuse_leaving_no_admin(membership, role=role, active=membership.user.is_active)
        before = _entitlement_snapshot(membership)
        membership.role, membership.all_accounts, membership.finance = role, all_accounts, finance
        membership.save(update_fields=["role", "all_accounts", "finance"])
        standing_changed(membership.user_id)
        _grants_sync(
            user=membership.user,
            tenant_id=membership.tenant_id,
            all_accounts=all_accounts,
            accounts=accounts,
            finance=finance,
        )
        after = _entitlement_snapshot(membership)
        if before != after:
            audit_record(
                action=AuditAction.ENTITLEMENT_CHANGED,
                actor=changed_by,
                tenant=membership.tenant_id,
                target=f"user:{membership.user.get_username()}",
                request=request,
                details={"before": before, "after": after},
            )
    return membership


def membership_create(
    *,
    user: User,
    tenant: Tenant,
    role: str,
    finance: bool,
    created_by: User,
    request: HttpRequest | None = None,
) -> Membership:
    """Put an existing user into a tenant (platform admins). The new member sees all the
    tenant's accounts; limit them on the members page."""
    all_accounts, _, finance = _entitlement(
        tenant=tenant, role=role, all_accounts=True, account_numbers=(), finance=finance
    )
    with transaction.atomic():
        membership = Membership.objects.create(
            user=user, tenant=tenant, role=role, all_accounts=all_accounts, finance=finance
        )
        standing_changed(user.pk)
        audit_record(
            action=AuditAction.ENTITLEMENT_CHANGED,
            actor=created_by,
            tenant=tenant,
            target=f"user:{user.get_username()}",
            request=request,
            details={"before": None, "after": _entitlement_snapshot(membership)},
        )
    return membership


def membership_set_active(
    *,
    membership: Membership,
    active: bool,
    changed_by: User,
    request: HttpRequest | None = None,
) -> Membership:
    """Deactivate (no sign-in, sees nothing) or reactivate a tenant's user."""
    with transaction.atomic():
        membership = (
            Membership.objects.select_for_update()
            .select_related("user", "tenant")
            .get(id=membership.id)
        )
        _refuse_leaving_no_admin(membership, role=membership.role, active=active)
        before = _entitlement_snapshot(membership)
        if membership.user.is_active != active:
            membership.user.is_active = active
            membership.user.save(update_fields=["is_active"])
            audit_record(
                action=AuditAction.ENTITLEMENT_CHANGED,
                actor=changed_by,
                tenant=membership.tenant_id,
                target=f"user:{membership.user.get_username()}",
                request=request,
                details={"before": before, "after": _entitlement_snapshot(membership)},
            )
    return membership


def tenant_second_factor_require(
    *,
    tenant: Tenant,
    required: bool,
    changed_by: User,
    request: HttpRequest | None = None,
) -> Tenant:
    """Require (or stop requiring) every member of `tenant` to pass a second factor after
    the password (accounts/second_factor.py): from their next page on, a member without
    an authenticator is sent to enrol one. Audited when it changes."""
    with transaction.atomic():
        tenant = Tenant.objects.select_for_update().get(id=tenant.id)
        if tenant.require_second_factor != required:
            tenant.require_second_factor = required
            tenant.save(update_fields=["require_second_factor"])
            audit_record(
                action=AuditAction.SECOND_FACTOR_POLICY_CHANGED,
                actor=changed_by,
                tenant=tenant.id,
                target=f"tenant:{tenant.slug}",
                request=request,
                details={"required": required},
            )
    return tenant
