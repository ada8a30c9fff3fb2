"""Who must pass a second factor (TOTP, or a recovery code) after the password, and when.

Required for operator staff and platform admins (`is_staff`, `is_superuser`, a staff
profile) and for the members of a tenant with `require_second_factor`; optional for
everyone else, and then asked for once the user has enrolled. Until the session is
verified (`django_otp.login`, kept in the session by django-otp's middleware) only the
second-factor pages, sign-out and static files answer: pages redirect to the verify (or,
for a required user without a device, the enrol) page; the JSON API answers 401.

Whether an optional user has a device is read once, at sign-in (`user_logged_in`), and kept
in the session; whether a user is required to is known from the user and its standing,
which every request reads anyway: the check costs no query on a verified or optional
session.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.http import HttpRequest

from accounts.scoping import standing_of
from accounts.selectors import has_second_factor

# In the session, from sign-in on: the user has a device, so the second factor is asked.
ENROLLED_SESSION_KEY = "second_factor_enrolled"

VERIFY = "verify"
ENROL = "enrol"


def second_factor_required(user: Any) -> bool:
    """Staff, platform admins and members of a tenant that requires it must use one."""
    if not user.is_authenticated:
        return False
    if user.is_staff or user.is_superuser:
        return True
    standing = standing_of(user)
    if standing.staff is not None:
        return True
    membership = standing.membership
    return membership is not None and membership.tenant.require_second_factor


def session_verified(request: HttpRequest) -> bool:
    """The session passed a second factor (django_otp's OTPMiddleware gives the user
    `is_verified`)."""
    is_verified = getattr(request.user, "is_verified", None)
    return bool(is_verified is not None and is_verified())


def second_factor_step(request: HttpRequest) -> str | None:
    """What the signed-in user must do before anything else: VERIFY, ENROL or nothing."""
    user = request.user
    if not user.is_authenticated or session_verified(request):
        return None
    if request.session.get(ENROLLED_SESSION_KEY):
        return VERIFY
    if not second_factor_required(user):
        return None
    # A required user whose session predates enrolment (or this policy): look once.
    return VERIFY if has_second_factor(user) else ENROL


@receiver(user_logged_in, dispatch_uid="accounts.second_factor.remember_enrolment")
def remember_enrolment(
    sender: Any, request: HttpRequest | None, user: AbstractBaseUser | AnonymousUser, **kwargs: Any
) -> None:
    if request is not None and hasattr(request, "session"):
        request.session[ENROLLED_SESSION_KEY] = has_second_factor(user)  # type: ignore[arg-type]
