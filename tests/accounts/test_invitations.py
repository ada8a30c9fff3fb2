"""Invitations: a tenant admin invites by email; the link works once, expires, can be
withdrawn; accepting creates exactly the invited user, role and grants, and signs in."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client

from accounts.models import AuditEntry, Invitation, Membership
from accounts.scoping import visible_account_ids
from accounts.services import invitation_create, user_create
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db
User = get_user_model()
NEW_PASSWORD = "a-long-and-unusual-passphrase-77"


def invite(client: Client, capture_on_commit, **form) -> str:
    """Invite through the members page; return the accept path from the email sent."""
    before = len(mail.outbox)
    with capture_on_commit(execute=True):
        response = client.post("/settings/members/", form)
    assert response.status_code == 302, response.content.decode()
    assert len(mail.outbox) == before + 1
    message = mail.outbox[-1]
    html = message.alternatives[0][0]
    link = re.search(r"http://\S+/invitations/[\w-]+/", message.body).group(0)
    assert link in html
    return link.removeprefix("http://localhost:8000")


def accept(path: str, *, password: str = NEW_PASSWORD, client: Client | None = None):
    client = client or Client()
    return client.post(
        path,
        {"first_name": "Ada", "last_name": "Lind", "password1": password, "password2": password},
    )


def test_invitee_joins_with_exactly_the_invited_grants_and_is_signed_in(
    client, tenant_admin, brenner, django_capture_on_commit_callbacks
):
    client.force_login(tenant_admin)
    path = invite(
        client,
        django_capture_on_commit_callbacks,
        email="ada@example.com",
        role="member",
        account=["C-1002"],
        finance="on",
    )
    assert mail.outbox[-1].to == ["ada@example.com"]

    invitee = Client()
    form = invitee.get(path)
    response = accept(path, client=invitee)

    assert form.status_code == 200 and "Join Brenner Tools" in form.content.decode()
    assert response.status_code == 302
    user = User.objects.get(username="ada@example.com")
    assert (user.first_name, user.email, user.check_password(NEW_PASSWORD)) == (
        "Ada",
        "ada@example.com",
        True,
    )
    membership = Membership.objects.get(user=user)
    assert (membership.tenant, membership.role, membership.all_accounts, membership.finance) == (
        brenner,
        "member",
        False,
        True,
    )
    assert sorted(visible_account_ids(user).values_list("number", flat=True)) == ["C-1002"]
    assert sorted(visible_account_ids(user, "invoices").values_list("number", flat=True)) == [
        "C-1002"
    ]
    assert invitee.get("/shipments/").status_code == 200  # signed in
    assert list(
        AuditEntry.objects.filter(tenant=brenner).order_by("id").values_list("action", "actor")
    ) == [("user_invited", "user:boss"), ("invitation_accepted", "user:ada@example.com")]
    assert AuditEntry.objects.get(action="user_invited").details["accounts"] == ["C-1002"]


def test_the_link_works_once(tenant_admin, brenner):
    _, secret = invitation_create(tenant=brenner, email="ada@example.com", invited_by=tenant_admin)
    path = f"/invitations/{secret}/"
    assert accept(path).status_code == 302

    again = accept(path, password="another-long-passphrase-88")

    assert again.status_code == 410
    assert "already been used" in again.content.decode()
    assert User.objects.filter(email="ada@example.com").count() == 1
    assert not User.objects.get(email="ada@example.com").check_password(
        "another-long-passphrase-88"
    )


def test_expired_link_is_refused_and_creates_nothing(tenant_admin, brenner, settings):
    settings.INVITATION_TTL = timedelta(days=7)
    invitation, secret = invitation_create(
        tenant=brenner, email="ada@example.com", invited_by=tenant_admin
    )
    Invitation.objects.filter(id=invitation.id).update(
        expires_at=invitation.created_at - timedelta(seconds=1)
    )

    page = Client().get(f"/invitations/{secret}/")
    response = accept(f"/invitations/{secret}/")

    assert page.status_code == response.status_code == 410
    assert "expired" in response.content.decode()
    assert not User.objects.filter(email="ada@example.com").exists()


def test_invitation_lifetime_follows_the_setting(tenant_admin, brenner, settings):
    settings.INVITATION_TTL = timedelta(hours=2)

    invitation, _ = invitation_create(
        tenant=brenner, email="ada@example.com", invited_by=tenant_admin
    )

    assert invitation.expires_at - invitation.created_at < timedelta(hours=2, seconds=5)
    assert invitation.expires_at - invitation.created_at > timedelta(hours=1, minutes=59)


def test_revoked_link_is_refused_and_the_revocation_audited(client, tenant_admin, brenner):
    invitation, secret = invitation_create(
        tenant=brenner, email="ada@example.com", invited_by=tenant_admin
    )
    client.force_login(tenant_admin)
    assert "ada@example.com" in client.get("/settings/members/").content.decode()

    withdrawn = client.post("/settings/members/", {"revoke_invitation": invitation.id}, follow=True)
    response = accept(f"/invitations/{secret}/")

    assert response.status_code == 410 and "withdrawn" in response.content.decode()
    assert not User.objects.filter(email="ada@example.com").exists()
    assert "Invitation of ada@example.com withdrawn" in withdrawn.content.decode()
    assert "ada@example.com" not in client.get("/settings/members/").content.decode()
    assert AuditEntry.objects.filter(
        action="invitation_revoked", actor="user:boss", tenant=brenner
    ).exists()


def test_unknown_link_is_404():
    response = accept("/invitations/inv_not-a-real-token/")

    assert response.status_code == 404
    assert "not valid" in response.content.decode()
    assert not User.objects.exists()


def test_password_validator_errors_are_shown_and_nothing_is_created(tenant_admin, brenner):
    _, secret = invitation_create(tenant=brenner, email="ada@example.com", invited_by=tenant_admin)

    short = accept(f"/invitations/{secret}/", password="12345")
    mismatch = Client().post(
        f"/invitations/{secret}/",
        {"first_name": "Ada", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD + "x"},
    )

    assert short.status_code == 400
    text = short.content.decode()
    assert "too short" in text and "entirely numeric" in text and "too common" in text
    assert mismatch.status_code == 400 and "differ" in mismatch.content.decode()
    assert not User.objects.filter(email="ada@example.com").exists()
    assert accept(f"/invitations/{secret}/").status_code == 302  # still usable


def test_an_email_of_another_tenants_user_is_answered_like_a_new_one(
    client, tenant_admin, nordwind, django_capture_on_commit_callbacks
):
    """Neutral answers: the inviting admin cannot tell that the address is used elsewhere
    (every status and text the same); its owner is told why it cannot join."""
    user_create(username="nina", email="nina@nordwind.example", password=PASSWORD, tenant=nordwind)
    client.force_login(tenant_admin)

    def invite_and_read(email: str) -> tuple[int, str, str]:
        with django_capture_on_commit_callbacks(execute=True):
            posted = client.post("/settings/members/", {"email": email, "all_accounts": "on"})
        page = client.get("/settings/members/")
        return (
            posted.status_code,
            posted["Location"],
            # the CSRF token and the invitation's id differ whoever is invited
            re.sub(
                r'value="([\w-]{64}|\d+)"', "VALUE", page.content.decode().replace(email, "EMAIL")
            ),
        )

    existing = invite_and_read("nina@nordwind.example")
    Invitation.objects.all().delete()  # the second answer is read without the first's row
    new = invite_and_read("newcomer@example.com")

    assert existing[:2] == new[:2] == (302, "/settings/members/")
    assert existing[2] == new[2]
    assert "Invitation sent to EMAIL" in new[2]
    to_nina, to_newcomer = mail.outbox[-2], mail.outbox[-1]
    assert to_nina.to == ["nina@nordwind.example"]
    assert to_nina.subject == to_newcomer.subject
    assert "/invitations/" not in to_nina.body
    assert "already has a portal account" in to_nina.body
    assert Membership.objects.get(user__username="nina").tenant == nordwind
    # the tenant's audit log (shown to its admins) reads the same for both
    first, second = AuditEntry.objects.filter(action="user_invited").order_by("id")
    for details in (first.details, second.details):
        details.pop("email"), details.pop("expires_at")
    assert first.details == second.details


def test_the_tenants_own_member_is_still_refused(client, tenant_admin, customer_user):
    client.force_login(tenant_admin)

    response = client.post(
        "/settings/members/", {"email": customer_user.email, "all_accounts": "on"}
    )

    assert response.status_code == 400
    assert "already a member of Brenner Tools" in response.content.decode()
    assert not Invitation.objects.exists()


def test_accepting_after_the_email_joined_elsewhere_is_refused(tenant_admin, brenner, nordwind):
    _, secret = invitation_create(tenant=brenner, email="ada@example.com", invited_by=tenant_admin)
    user_create(
        username="ada@example.com", email="ada@example.com", password=PASSWORD, tenant=nordwind
    )

    response = accept(f"/invitations/{secret}/")

    assert response.status_code == 409
    assert Membership.objects.get(user__email="ada@example.com").tenant == nordwind


def test_selected_accounts_must_be_the_tenants_own(client, tenant_admin, nordwind):
    client.force_login(tenant_admin)

    response = client.post(
        "/settings/members/", {"email": "ada@example.com", "account": ["C-2001"]}
    )

    assert response.status_code == 400
    assert "must belong to your tenant" in response.content.decode()
    assert not Invitation.objects.exists()


def test_a_second_pending_invitation_for_the_same_email_is_refused(client, tenant_admin, brenner):
    invitation_create(tenant=brenner, email="ada@example.com", invited_by=tenant_admin)
    client.force_login(tenant_admin)

    response = client.post("/settings/members/", {"email": "ADA@example.com", "all_accounts": "on"})

    assert response.status_code == 400 and "pending invitation" in response.content.decode()
    assert Invitation.objects.count() == 1


def test_an_invited_tenant_admin_sees_every_account_and_manages_members(tenant_admin, brenner):
    _, secret = invitation_create(
        tenant=brenner,
        email="deputy@example.com",
        role="tenant_admin",
        all_accounts=False,
        account_numbers=["C-1002"],
        invited_by=tenant_admin,
    )
    invitee = Client()

    accept(f"/invitations/{secret}/", client=invitee)

    membership = Membership.objects.get(user__username="deputy@example.com")
    assert (membership.role, membership.all_accounts, membership.finance) == (
        "tenant_admin",
        True,
        True,
    )
    assert invitee.get("/settings/members/").status_code == 200


def test_only_tenant_admins_get_the_members_link(client, tenant_admin, customer_user):
    # The settings area's own navigation (one "Settings" entry in the main menu).
    client.force_login(tenant_admin)
    admin_page = client.get("/settings/notifications/").content.decode()
    client.force_login(customer_user)
    member_page = client.get("/settings/notifications/").content.decode()

    assert 'href="/settings/members/"' in admin_page
    assert 'href="/settings/members/"' not in member_page
    assert client.get("/settings/members/").status_code == 404


def test_a_failing_mail_server_leaves_the_invitation_pending_not_a_500(
    client, tenant_admin, settings, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", 1  # nothing listens there
    client.force_login(tenant_admin)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/settings/members/", {"email": "ada@example.com", "all_accounts": "on"}
        )

    assert response.status_code == 302
    assert "ada@example.com" in client.get("/settings/members/").content.decode()
