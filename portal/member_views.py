"""Tenant admins manage their users (members page, invitations); invitees accept here."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from accounts import selectors
from accounts.models import InvitationState, Role
from accounts.services import (
    InvitationUnusable,
    invitation_accept,
    invitation_create,
    invitation_revoke,
    membership_set_active,
    membership_update,
    tenant_second_factor_require,
)
from portal.access import signed_in_user, tenant_admin_or_404
from portal.forms import posted_id

UNUSABLE_MESSAGES = {
    InvitationState.ACCEPTED: "This invitation has already been used. Sign in instead.",
    InvitationState.REVOKED: "This invitation was withdrawn. Ask your administrator for a new one.",
    InvitationState.EXPIRED: "This invitation has expired. Ask your administrator for a new one.",
}


def _entitlement_form(request: HttpRequest) -> dict:
    return {
        "role": request.POST.get("role", Role.MEMBER),
        "all_accounts": request.POST.get("all_accounts") == "on",
        "account_numbers": request.POST.getlist("account"),
        "finance": request.POST.get("finance") == "on",
    }


@login_required
def member_settings(request: HttpRequest) -> HttpResponse:
    admin = tenant_admin_or_404(request)
    error, status = None, 200
    if request.method == "POST" and "revoke_invitation" in request.POST:
        invitation = selectors.pending_invitation_of_tenant(
            admin.tenant_id, posted_id(request, "revoke_invitation")
        )
        if invitation is None:
            raise Http404("No such invitation")
        invitation_revoke(
            invitation=invitation, revoked_by=signed_in_user(request), request=request
        )
        messages.success(request, f"Invitation of {invitation.email} withdrawn.")
        return redirect("member-settings")
    if request.method == "POST" and "require_second_factor" in request.POST:
        required = request.POST["require_second_factor"] == "1"
        tenant_second_factor_require(
            tenant=admin.tenant,
            required=required,
            changed_by=signed_in_user(request),
            request=request,
        )
        messages.success(
            request,
            "Every member now signs in with a second factor."
            if required
            else "A second factor is no longer required (members who set one up keep it).",
        )
        return redirect("member-settings")
    if request.method == "POST":
        try:
            invitation, _ = invitation_create(
                tenant=admin.tenant,
                email=request.POST.get("email", ""),
                invited_by=signed_in_user(request),
                request=request,
                **_entitlement_form(request),
            )
        except ValueError as failure:
            error, status = str(failure), 400
        else:
            messages.success(request, f"Invitation sent to {invitation.email}.")
            return redirect("member-settings")
    return render(
        request,
        "settings/members.html",
        {
            "tenant": admin.tenant,
            "members": selectors.members_of_tenant(admin.tenant_id),
            "invitations": selectors.pending_invitations_of_tenant(admin.tenant_id),
            "accounts": selectors.accounts_of_tenant(admin.tenant_id),
            "roles": Role.choices,
            "error": error,
        },
        status=status,
    )


@login_required
def member_edit(request: HttpRequest, membership_id: int) -> HttpResponse:
    admin = tenant_admin_or_404(request)
    member = selectors.member_of_tenant(admin.tenant_id, membership_id)
    if member is None:
        raise Http404("No such member")
    error, status = None, 200
    if request.method == "POST":
        try:
            if "active" in request.POST:
                if request.POST["active"] not in {"0", "1"}:
                    raise ValueError("Choose to deactivate or reactivate.")
                membership_set_active(
                    membership=member.membership,
                    active=request.POST["active"] == "1",
                    changed_by=signed_in_user(request),
                    request=request,
                )
            else:
                membership_update(
                    membership=member.membership,
                    changed_by=signed_in_user(request),
                    request=request,
                    **_entitlement_form(request),
                )
        except ValueError as failure:
            error, status = str(failure), 400
        else:
            messages.success(request, f"Saved {member.membership.user.get_username()}.")
            return redirect("member-edit", membership_id=membership_id)
    return render(
        request,
        "settings/member_edit.html",
        {
            "tenant": admin.tenant,
            "member": member,
            "accounts": selectors.accounts_of_tenant(admin.tenant_id),
            "roles": Role.choices,
            "error": error,
        },
        status=status,
    )


def invitation_accept_page(request: HttpRequest, token: str) -> HttpResponse:
    invitation = selectors.invitation_by_token(token)
    if invitation is None:
        return render(
            request,
            "invitations/unusable.html",
            {"message": "This invitation link is not valid."},
            status=404,
        )
    state = invitation.state(timezone.now())
    if state != InvitationState.PENDING:
        return render(
            request, "invitations/unusable.html", {"message": UNUSABLE_MESSAGES[state]}, status=410
        )
    errors: list[str] = []
    if request.method == "POST":
        password = request.POST.get("password1", "")
        if password != request.POST.get("password2", ""):
            errors.append("The two passwords differ.")
        else:
            try:
                user = invitation_accept(
                    invitation=invitation,
                    first_name=request.POST.get("first_name", ""),
                    last_name=request.POST.get("last_name", ""),
                    password=password,
                    request=request,
                )
            except InvitationUnusable as unusable:
                return render(
                    request,
                    "invitations/unusable.html",
                    {"message": UNUSABLE_MESSAGES[unusable.state]},
                    status=410,
                )
            except ValidationError as invalid:
                errors.extend(invalid.messages)
            except ValueError as failure:
                return render(
                    request, "invitations/unusable.html", {"message": str(failure)}, status=409
                )
            else:
                login(request, user, backend="django.contrib.auth.backends.ModelBackend")
                return redirect("home")
    return render(
        request,
        "invitations/accept.html",
        {
            "invitation": invitation,
            "errors": errors,
            "first_name": request.POST.get("first_name", ""),
            "last_name": request.POST.get("last_name", ""),
        },
        status=400 if errors else 200,
    )
