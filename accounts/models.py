"""Who is who: tenants, their ERP customer accounts, memberships, tokens and sources."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from guardian.models import UserObjectPermissionBase


class Tenant(models.Model):
    """A B2B customer company using the portal."""

    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)
    # A deactivated tenant's members are signed out and its partner tokens refused; its
    # events are still accepted and projected, and nothing is deleted
    # (accounts.services.tenants).
    is_active = models.BooleanField(default=True)
    require_second_factor = models.BooleanField(
        default=False, help_text="Members must verify a one-time code after their password"
    )
    # How long closed shipments are kept after their last event (visibility/services/
    # retention.py); empty: CLOSED_SHIPMENT_RETENTION_DAYS (two years).
    closed_shipment_retention_days = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Days a delivered or cancelled shipment is kept after its last event",
    )

    def __str__(self) -> str:
        return self.name


class CustomerAccount(models.Model):
    """An ERP customer account. Events name it; the tenant that owns it sees its data.

    An account can exist before any tenant owns it (events arrived first); its events are
    held until a platform admin assigns it.
    """

    number = models.CharField(max_length=128, unique=True)
    name = models.CharField(max_length=200, blank=True)
    tenant = models.ForeignKey(
        Tenant, null=True, blank=True, on_delete=models.PROTECT, related_name="accounts"
    )

    class Meta:
        permissions = [("view_finance", "Can see invoices and freight charges of the account")]

    def __str__(self) -> str:
        return self.number


class CustomerAccountUserObjectPermission(UserObjectPermissionBase):
    """Direct foreign-key guardian permissions: one row per (user, account, permission)."""

    content_object = models.ForeignKey(CustomerAccount, on_delete=models.CASCADE)


class Role(models.TextChoices):
    MEMBER = "member", "Member"
    TENANT_ADMIN = "tenant_admin", "Tenant admin"


class Membership(models.Model):
    """A user's place in a tenant. `all_accounts` members see every account the tenant
    owns; the others see the accounts granted to them through guardian permissions."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="membership"
    )
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.MEMBER)
    all_accounts = models.BooleanField(default=True)
    finance = models.BooleanField(default=False, help_text="May see invoices and charges")

    def __str__(self) -> str:
        return f"{self.user} in {self.tenant} ({self.role})"


class StaffProfile(models.Model):
    """Customer-service staff: the tenants they serve, or all of them."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="staff_profile"
    )
    all_tenants = models.BooleanField(default=False)
    tenants = models.ManyToManyField(Tenant, blank=True, related_name="staff")

    def __str__(self) -> str:
        return f"staff {self.user}"


class TokenScope(models.TextChoices):
    SHIPMENTS = "shipments", "Orders and shipments"
    DOCUMENTS = "documents", "Documents"
    INVOICES = "invoices", "Invoices and freight charges"
    # Managing the tenant's webhooks; only a token that lists it (never implied by an
    # empty list of scopes, which means every *read* scope).
    WEBHOOKS = "webhooks", "Manage webhooks"


class ApiToken(models.Model):
    """A partner's bearer token for REST and GraphQL. Only its SHA-256 is stored."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=200)
    prefix = models.CharField(max_length=16, help_text="Shown to identify the token")
    token_hash = models.CharField(max_length=64, unique=True)
    scopes = models.JSONField(default=list, help_text="Empty means every scope")
    accounts = models.ManyToManyField(
        CustomerAccount, blank=True, help_text="Empty means every account of the tenant"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class InvitationState(models.TextChoices):
    PENDING = "pending", "Pending"
    ACCEPTED = "accepted", "Accepted"
    REVOKED = "revoked", "Revoked"
    EXPIRED = "expired", "Expired"


class Invitation(models.Model):
    """A tenant admin's invitation to join the tenant: single use, expiring, revocable.

    Only the SHA-256 of the link's token is stored, like API tokens.
    """

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.MEMBER)
    all_accounts = models.BooleanField(default=True)
    finance = models.BooleanField(default=False)
    accounts = models.ManyToManyField(
        CustomerAccount, blank=True, help_text="Granted when all_accounts is off"
    )
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"invitation of {self.email} to {self.tenant}"

    def state(self, now: datetime) -> InvitationState:
        if self.accepted_at is not None:
            return InvitationState.ACCEPTED
        if self.revoked_at is not None:
            return InvitationState.REVOKED
        if self.expires_at <= now:
            return InvitationState.EXPIRED
        return InvitationState.PENDING


class SourceRole(models.TextChoices):
    """Which system of record a source is: it may assert only what that system owns
    (the table is `integration.source_policy.ROLE_EVENT_TYPES`)."""

    ERP = "erp", "ERP (orders, customer accounts, invoices)"
    TMS = "tms", "TMS (shipments and their execution)"
    CARRIER = "carrier", "Carrier feed (milestones, ETAs, delays, shipment documents)"


class SourceSystem(models.Model):
    """An upstream system (ERP, TMS, carrier feed) allowed to send events."""

    key = models.SlugField(max_length=64, unique=True)
    token_hash = models.CharField(max_length=64, unique=True)
    # The least privileged role by default: an unclassified source may not create or
    # re-link anything.
    role = models.CharField(max_length=10, choices=SourceRole.choices, default=SourceRole.CARRIER)
    # Numbers, not foreign keys: a source may be limited to an account no event has
    # named yet.
    account_numbers = ArrayField(
        models.CharField(max_length=128),
        default=list,
        blank=True,
        help_text="Customer accounts the source may send events for; empty means every account",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    active = models.BooleanField(default=True)

    def __str__(self) -> str:
        return self.key


class AuditAction(models.TextChoices):
    SIGN_IN = "sign_in", "Signed in"
    SIGN_IN_FAILED = "sign_in_failed", "Failed sign-in"
    SIGN_IN_THROTTLED = "sign_in_throttled", "Sign-in throttled"
    TOKEN_CREATED = "token_created", "API token created"
    TOKEN_REVOKED = "token_revoked", "API token revoked"
    ENTITLEMENT_CHANGED = "entitlement_changed", "Entitlement changed"
    USER_INVITED = "user_invited", "User invited"
    INVITATION_ACCEPTED = "invitation_accepted", "Invitation accepted"
    INVITATION_REVOKED = "invitation_revoked", "Invitation revoked"
    DOCUMENT_DOWNLOADED = "document_downloaded", "Document downloaded"
    STAFF_VIEWED = "staff_viewed", "Staff looked at tenant data"
    # Written before staff looks became one entry per request (staff_viewed); kept so that
    # older entries still read.
    STAFF_SEARCHED = "staff_searched", "Staff searched"
    EXCEPTION_WORKED = "exception_worked", "Shipment exception worked"
    DEAD_LETTER_REPLAYED = "dead_letter_replayed", "Dead letter replayed"
    DEAD_LETTER_DISCARDED = "dead_letter_discarded", "Dead letter discarded"
    TENANT_SAVED = "tenant_saved", "Tenant created or accounts assigned"
    SOURCE_REGISTERED = "source_registered", "Source system registered"
    TENANT_DEACTIVATED = "tenant_deactivated", "Tenant deactivated"
    TENANT_REACTIVATED = "tenant_reactivated", "Tenant reactivated"
    PASSWORD_RESET_REQUESTED = "password_reset_asked", "Password reset requested"
    SECOND_FACTOR_ENROLLED = "second_factor_enrolled", "Second factor enrolled"
    SECOND_FACTOR_FAILED = "second_factor_failed", "Second factor failed"
    RETENTION_APPLIED = "retention_applied", "Closed shipments deleted by retention"
    SECOND_FACTOR_POLICY_CHANGED = "second_factor_policy", "Second factor requirement changed"


class AuditEntry(models.Model):
    """Append-only: a database trigger (migration 0003) refuses UPDATE and DELETE."""

    occurred_at = models.DateTimeField(auto_now_add=True, db_index=True)
    action = models.CharField(max_length=24, choices=AuditAction.choices)
    tenant = models.ForeignKey(
        Tenant,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    actor = models.CharField(max_length=200, help_text="user:<name>, token:<prefix> or anonymous")
    target = models.CharField(max_length=200, blank=True, default="")
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        indexes = [models.Index(fields=["tenant", "-occurred_at"])]
        verbose_name_plural = "audit entries"


class UserPreferences(models.Model):
    """What a user chose for themselves: the time zone every time is shown in.

    Empty `time_zone` means not chosen yet: the browser's zone is taken on the first
    signed-in page (static/js/portal.js), and UTC until then."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="preferences"
    )
    time_zone = models.CharField(max_length=64, blank=True, default="")

    def __str__(self) -> str:
        return f"{self.user}: {self.time_zone or 'no time zone'}"
