"""Password reset by email (Django's PasswordResetView family), neutral and rate-limited.

Whatever the address (a user's, nobody's, an inactive user's) the answer is the same page;
an email goes out only to active users with a usable password (Django's
`PasswordResetForm.get_users`). Requests are counted per address asked about and per
client address (`accounts.rate_limits`): past the limit nothing is sent, and the answer is
still the same, so the limit neither reveals anything nor lets anyone flood a mailbox.
The link carries Django's token: it stops working once the password changes (so it works
once), after `PASSWORD_RESET_TIMEOUT`, and every other session of the user ends with the
password change.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.forms import PasswordResetForm
from django.http import HttpRequest

from accounts.addresses import client_address
from accounts.audit import audit_record
from accounts.models import AuditAction, Membership
from accounts.rate_limits import window_add

MAX_PER_EMAIL = 3
MAX_PER_ADDRESS = 10
WINDOW_SECONDS = 60 * 60


def _over_limit(name: str, limit: int) -> bool:
    counted = window_add(name, window_seconds=WINDOW_SECONDS)
    return counted is not None and counted.count > limit


def password_reset_allowed(email: str, request: HttpRequest | None) -> bool:
    """Count this request; False when nothing may be sent for it."""
    over_email = _over_limit(f"reset:email:{email.strip().lower()}", MAX_PER_EMAIL)
    address = client_address(request)
    over_address = address is not None and _over_limit(f"reset:address:{address}", MAX_PER_ADDRESS)
    return not (over_email or over_address)


class NeutralPasswordResetForm(PasswordResetForm):
    """Sends only within the limits; links point at PORTAL_BASE_URL, not the Host header
    (a forged Host would otherwise put an attacker's domain in the link)."""

    def save(self, **kwargs: Any) -> None:  # type: ignore[override]  # the view passes keywords
        request: HttpRequest | None = kwargs.get("request")
        email = self.cleaned_data["email"]
        if not password_reset_allowed(email, request):
            return
        for user in self.get_users(email):
            membership = Membership.objects.filter(user=user).first()
            audit_record(
                action=AuditAction.PASSWORD_RESET_REQUESTED,
                actor=f"user:{user.get_username()}"[:200],
                tenant=membership.tenant_id if membership else None,
                request=request,
            )
        kwargs["extra_email_context"] = {
            **(kwargs.get("extra_email_context") or {}),
            "base_url": settings.PORTAL_BASE_URL.rstrip("/"),
        }
        super().save(**kwargs)
