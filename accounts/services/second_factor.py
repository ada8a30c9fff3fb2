"""Writes about a user's second factor: TOTP enrolment (django-otp's TOTP device),
recovery codes (its static device: each code works once), verification of a session.

Recovery codes are stored as django-otp stores them (its StaticToken rows) and shown once,
when made; the TOTP key is shown only while the device is unconfirmed.
"""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db import transaction
from django.http import HttpRequest
from django_otp import login as otp_login
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.audit import audit_record
from accounts.models import AuditAction
from accounts.scoping import standing_of
from accounts.second_factor import ENROLLED_SESSION_KEY
from accounts.selectors import confirmed_totp_device, recovery_device, unconfirmed_totp_device

RECOVERY_CODES = 10


def _tenant_id(user: User) -> int | None:
    membership = standing_of(user).membership
    return membership.tenant_id if membership else None


def totp_enrolment_start(*, user: User) -> TOTPDevice:
    """The unconfirmed device whose key the enrol page shows (the same one until confirmed)."""
    return unconfirmed_totp_device(user) or TOTPDevice.objects.create(
        user=user, name="authenticator app", confirmed=False
    )


def recovery_codes_replace(*, user: User) -> list[str]:
    """New recovery codes, shown once; the old ones stop working."""
    with transaction.atomic():
        device = recovery_device(user) or StaticDevice.objects.create(
            user=user, name="recovery codes", confirmed=True
        )
        device.token_set.all().delete()
        codes = [StaticToken.random_token() for _ in range(RECOVERY_CODES)]
        StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
    return codes


def totp_enrolment_confirm(*, request: HttpRequest, user: User, token: str) -> list[str] | None:
    """Confirm the enrolment with a code from the app: the session is verified and the
    recovery codes returned (to show once). None when the code is wrong."""
    with transaction.atomic():
        device = unconfirmed_totp_device(user)
        if device is None or not device.verify_token(token.strip()):
            audit_record(
                action=AuditAction.SECOND_FACTOR_FAILED,
                actor=user,
                tenant=_tenant_id(user),
                request=request,
                details={"step": "enrol"},
            )
            return None
        TOTPDevice.objects.filter(user=user).exclude(id=device.id).delete()
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        codes = recovery_codes_replace(user=user)
        audit_record(
            action=AuditAction.SECOND_FACTOR_ENROLLED,
            actor=user,
            tenant=_tenant_id(user),
            request=request,
        )
    otp_login(request, device)
    request.session[ENROLLED_SESSION_KEY] = True
    return codes


def second_factor_verify(*, request: HttpRequest, user: User, token: str) -> bool:
    """Verify the session with a TOTP code or an unused recovery code (used up by this).
    Each device throttles failures itself (django-otp's ThrottlingMixin)."""
    token = token.strip().replace(" ", "")
    with transaction.atomic():
        for device in (confirmed_totp_device(user), recovery_device(user)):
            if device is not None and device.verify_token(token):
                otp_login(request, device)
                return True
        audit_record(
            action=AuditAction.SECOND_FACTOR_FAILED,
            actor=user,
            tenant=_tenant_id(user),
            request=request,
            details={"step": "verify"},
        )
    return False
