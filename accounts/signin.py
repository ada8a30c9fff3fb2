"""Sign-in: throttling against guessing (per username and per address) and its audit.

Counters live in Redis (Django's cache). After `MAX_FAILURES` failed attempts within
`WINDOW_SECONDS` for the same username or from the same address, further attempts are
refused without checking the password until the window passes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import AuthenticationForm
from django.core.cache import cache

from accounts.audit import audit_record, client_address
from accounts.models import AuditAction, Membership

MAX_FAILURES = 5
WINDOW_SECONDS = 15 * 60


def _keys(username: str, address: str | None) -> list[str]:
    keys = [f"signin-failures:user:{username.strip().lower()}"]
    if address:
        keys.append(f"signin-failures:address:{address}")
    return keys


def signin_throttled(username: str, address: str | None) -> bool:
    counts = cache.get_many(_keys(username, address))
    return any(count >= MAX_FAILURES for count in counts.values())


def signin_failed(username: str, address: str | None) -> None:
    for key in _keys(username, address):
        cache.add(key, 0, WINDOW_SECONDS)
        cache.incr(key)


def signin_succeeded(username: str) -> None:
    cache.delete(_keys(username, None)[0])


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

    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username") or ""
        address = client_address(self.request)
        if signin_throttled(username, address):
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
            signin_failed(username, address)
            known = get_user_model().objects.filter(username=username).exists()
            audit_record(
                action=AuditAction.SIGN_IN_FAILED,
                actor=f"user:{username}"[:200],
                tenant=_tenant_of(username),
                request=self.request,
                details={"known_user": known},
            )
            raise
        signin_succeeded(username)
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
