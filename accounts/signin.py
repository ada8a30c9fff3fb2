"""Sign-in: throttling against guessing (per username and per address) and its audit.

The address is the client's, not a proxy's: behind the configured trusted proxies
(`TRUSTED_PROXY_IPS`) it comes from X-Forwarded-For (`accounts.addresses`).

Every attempt is counted **before** the password is checked, atomically in Redis
(`accounts.rate_limits`): the attempt that makes a username's or an address's count
pass `MAX_FAILURES` within `WINDOW_SECONDS` is refused without checking the password,
and so is every one after it until the window passes. Counting first is what makes it
hold under concurrency: reading the count, checking the password and then counting the
failure let any number of parallel guesses through the read before the first failure
was counted. A successful sign-in clears its username's count and gives its unit back to
the address, so colleagues behind one address are not throttled by each other's
sign-ins.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import AuthenticationForm

from accounts.addresses import client_address
from accounts.audit import audit_record
from accounts.models import AuditAction, Membership
from accounts.rate_limits import window_add, window_clear

MAX_FAILURES = 5
WINDOW_SECONDS = 15 * 60


def _user_key(username: str) -> str:
    return f"signin:user:{username.strip().lower()}"


def _address_key(address: str) -> str:
    return f"signin:address:{address}"


def signin_attempt(username: str, address: str | None) -> bool:
    """Count this attempt; True when it must be refused without checking the password."""
    keys = [_user_key(username)] + ([_address_key(address)] if address else [])
    counts = [window_add(key, window_seconds=WINDOW_SECONDS) for key in keys]
    return any(counted is not None and counted.count > MAX_FAILURES for counted in counts)


def signin_succeeded(username: str, address: str | None) -> None:
    window_clear(_user_key(username))
    if address:
        window_add(_address_key(address), window_seconds=WINDOW_SECONDS, units=-1)


def _tenant_of(username: str) -> int | None:
    membership = Membership.objects.filter(user__username=username).first()
    return membership.tenant_id if membership else None


# What the mixin needs of the form it is mixed into (request, cleaned_data, get_user).
if TYPE_CHECKING:
    _SignInForm = AuthenticationForm
else:
    _SignInForm = object


class SignInThrottling(_SignInForm):
    """Mixed into Django's sign-in forms (the portal's and the admin's)."""

    throttled_message = "Too many failed sign-ins. Try again in 15 minutes."
    inactive_tenant_message = (
        "Your company's access to the portal is suspended. Ask your administrator."
    )

    def confirm_login_allowed(self, user: Any) -> None:
        """After the password matched (so only the account's owner reads this): a
        deactivated tenant's members are refused here rather than signed out at once."""
        super().confirm_login_allowed(user)
        membership = Membership.objects.filter(user=user).select_related("tenant").first()
        if membership is not None and not membership.tenant.is_active:
            raise forms.ValidationError(self.inactive_tenant_message, code="inactive_tenant")

    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username") or ""
        address = client_address(self.request)
        if signin_attempt(username, address):
            audit_record(
                action=AuditAction.SIGN_IN_THROTTLED,
                actor=f"user:{username}"[:200],
                tenant=_tenant_of(username),
                request=self.request,
            )
            raise forms.ValidationError(self.throttled_message, code="throttled")
        try:
            cleaned = super().clean()
        except forms.ValidationError:
            known = get_user_model().objects.filter(username=username).exists()
            audit_record(
                action=AuditAction.SIGN_IN_FAILED,
                actor=f"user:{username}"[:200],
                tenant=_tenant_of(username),
                request=self.request,
                details={"known_user": known},
            )
            raise
        signin_succeeded(username, address)
        audit_record(
            action=AuditAction.SIGN_IN,
            actor=self.get_user(),
            tenant=_tenant_of(username),
            request=self.request,
        )
        return cleaned


class ThrottledAuthenticationForm(SignInThrottling, AuthenticationForm):
    pass


class ThrottledAdminAuthenticationForm(SignInThrottling, AdminAuthenticationForm):
    pass
