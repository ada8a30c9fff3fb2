"""The second-factor pages: enrol (the profile page: key as text, otpauth:// URI and a QR
code rendered as SVG on the server), verify after the password, new recovery codes."""

from __future__ import annotations

import base64
from urllib.parse import urlencode

import segno
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.views.decorators.cache import never_cache

from accounts.second_factor import (
    ENROLLED_SESSION_KEY,
    second_factor_required,
    session_verified,
)
from accounts.selectors import confirmed_totp_device, has_second_factor, recovery_codes_left
from accounts.services.second_factor import (
    recovery_codes_replace,
    second_factor_verify,
    totp_enrolment_confirm,
    totp_enrolment_start,
)


def _next_url(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return "/"


@never_cache
@login_required
def second_factor_page(request: HttpRequest) -> HttpResponse:
    user = request.user
    device = confirmed_totp_device(user)  # type: ignore[arg-type]
    verified = session_verified(request)
    if device is not None and not verified:
        # Enrolled but not verified in this session: no new device before the code.
        return redirect(f"{reverse('second-factor-verify')}?{urlencode({'next': request.path})}")
    if request.method == "POST" and device is not None and "recovery_codes" in request.POST:
        fresh_codes = recovery_codes_replace(user=user)  # type: ignore[arg-type]
        return render(request, "account/recovery_codes.html", {"codes": fresh_codes})
    if request.method == "POST" and device is None:
        codes = totp_enrolment_confirm(
            request=request,
            user=user,  # type: ignore[arg-type]
            token=request.POST.get("token", ""),
        )
        if codes is not None:
            return render(
                request,
                "account/recovery_codes.html",
                {"codes": codes, "next": _next_url(request)},
            )
        messages.error(request, "That code did not match. Enter the current code from the app.")
    context: dict = {
        "enrolled": device is not None,
        "required": second_factor_required(user),
        "codes_left": recovery_codes_left(user) if device is not None else None,  # type: ignore[arg-type]
        "next": _next_url(request),
    }
    if device is None:
        pending = totp_enrolment_start(user=user)  # type: ignore[arg-type]
        uri = pending.config_url
        context.update(
            secret=base64.b32encode(pending.bin_key).decode(),
            uri=uri,
            # segno writes plain SVG paths (no script, no style attribute): CSP-safe inline.
            qr_svg=mark_safe(segno.make(uri, error="m").svg_inline(scale=4)),
        )
    return render(
        request,
        "account/second_factor.html",
        context,
        status=400 if request.method == "POST" and device is None else 200,
    )


@never_cache
@login_required
def second_factor_verify_page(request: HttpRequest) -> HttpResponse:
    if session_verified(request):
        return redirect(_next_url(request))
    if not has_second_factor(request.user):  # type: ignore[arg-type]
        # Its devices were removed (lost phone, by a platform admin) since sign-in.
        request.session[ENROLLED_SESSION_KEY] = False
        return redirect(f"{reverse('second-factor')}?{urlencode({'next': _next_url(request)})}")
    error = None
    if request.method == "POST":
        if second_factor_verify(
            request=request,
            user=request.user,  # type: ignore[arg-type]
            token=request.POST.get("token", ""),
        ):
            return redirect(_next_url(request))
        error = "That code did not match, or too many codes were wrong: wait and try again."
    return render(
        request,
        "account/second_factor_verify.html",
        {"error": error, "next": _next_url(request)},
        status=400 if error else 200,
    )
