"""The members page: tenant admins change roles and entitlements (guardian grants on
customer accounts) and deactivate users; what a member sees follows at once; every change
is audited with before and after; the tenant always keeps an admin."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts.models import AuditEntry, Membership
from accounts.scoping import visible_account_ids
from accounts.services import invitation_create, user_create
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture
def granted_member(brenner):
    """A member granted C-1001 and C-1002 one by one (not all accounts)."""
    return user_create(
        username="clerk", password=PASSWORD, tenant=brenner, account_numbers=["C-1001", "C-1002"]
    )


def edit_path(user) -> str:
    return f"/settings/members/{Membership.objects.get(user=user).id}/"


def shipment_ids(client: Client) -> str:
    return client.get("/shipments/").content.decode()


def test_members_page_lists_roles_accounts_and_finance(client, tenant_admin, granted_member):
    client.force_login(tenant_admin)

    page = client.get("/settings/members/").content.decode()

    boss_row = page.split('data-testid="member-boss"')[1].split("</tr>")[0]
    clerk_row = page.split('data-testid="member-clerk"')[1].split("</tr>")[0]
    assert "Tenant admin" in boss_row and "<td>all</td>" in boss_row
    assert "Member" in clerk_row and "C-1001, C-1002" in clerk_row and "<td>no</td>" in clerk_row


def test_removing_a_grant_hides_that_accounts_shipments(
    client, delivered_story, tenant_admin, granted_member
):
    member_client = Client()
    member_client.force_login(granted_member)
    assert "SHP-778120" in shipment_ids(member_client)  # SHP-778120 is on C-1001
    client.force_login(tenant_admin)

    response = client.post(edit_path(granted_member), {"role": "member", "account": ["C-1002"]})

    assert response.status_code == 302
    assert "SHP-778120" not in shipment_ids(member_client)
    assert member_client.get("/shipments/SHP-778120/").status_code == 404
    entry = AuditEntry.objects.get(action="entitlement_changed")
    assert (entry.actor, entry.target) == ("user:boss", "user:clerk")
    assert entry.details["before"]["accounts"] == ["C-1001", "C-1002"]
    assert entry.details["after"]["accounts"] == ["C-1002"]


def test_all_accounts_and_finance_grants_follow_the_form(client, tenant_admin, granted_member):
    client.force_login(tenant_admin)

    client.post(
        edit_path(granted_member), {"role": "member", "account": ["C-1002"], "finance": "on"}
    )
    finance_limited = sorted(
        visible_account_ids(granted_member, "invoices").values_list("number", flat=True)
    )
    client.post(edit_path(granted_member), {"role": "member", "all_accounts": "on"})

    assert finance_limited == ["C-1002"]
    assert sorted(visible_account_ids(granted_member).values_list("number", flat=True)) == [
        "C-1001",
        "C-1002",
    ]
    assert not visible_account_ids(granted_member, "invoices").exists()
    last = AuditEntry.objects.filter(action="entitlement_changed").latest("id")
    assert last.details["before"]["finance"] is True
    assert last.details["after"] == {
        "role": "member",
        "all_accounts": True,
        "accounts": [],
        "finance": False,
        "active": True,
    }


def test_a_member_limited_to_no_account_is_refused(client, tenant_admin, granted_member):
    client.force_login(tenant_admin)

    response = client.post(edit_path(granted_member), {"role": "member"})

    assert response.status_code == 400
    assert "at least one account" in response.content.decode()
    assert not AuditEntry.objects.filter(action="entitlement_changed").exists()


def test_promoting_a_member_makes_them_a_tenant_admin(client, tenant_admin, granted_member):
    client.force_login(tenant_admin)
    client.post(edit_path(granted_member), {"role": "tenant_admin", "all_accounts": "on"})

    client.force_login(granted_member)

    assert client.get("/settings/members/").status_code == 200


def test_deactivated_member_can_no_longer_sign_in_or_see_anything(
    client, delivered_story, tenant_admin, customer_user
):
    client.force_login(tenant_admin)

    client.post(edit_path(customer_user), {"active": "0"})

    customer_user.refresh_from_db()
    assert not customer_user.is_active
    assert not visible_account_ids(customer_user).exists()
    assert not Client().login(username="customer", password=PASSWORD)
    entry = AuditEntry.objects.get(action="entitlement_changed")
    assert (entry.details["before"]["active"], entry.details["after"]["active"]) == (True, False)
    client.post(edit_path(customer_user), {"active": "1"})
    assert Client().login(username="customer", password=PASSWORD)
    assert client.post(edit_path(customer_user), {"active": "maybe"}).status_code == 400
    customer_user.refresh_from_db()
    assert customer_user.is_active


def test_the_last_admin_cannot_demote_or_deactivate_themselves(client, tenant_admin):
    client.force_login(tenant_admin)

    demoted = client.post(edit_path(tenant_admin), {"role": "member", "all_accounts": "on"})
    deactivated = client.post(edit_path(tenant_admin), {"active": "0"})

    assert demoted.status_code == deactivated.status_code == 400
    assert "at least one active tenant admin" in demoted.content.decode()
    tenant_admin.refresh_from_db()
    assert tenant_admin.is_active and tenant_admin.membership.role == "tenant_admin"


def test_an_admin_may_step_down_when_another_admin_remains(client, brenner, tenant_admin):
    user_create(username="boss2", password=PASSWORD, tenant=brenner, role="tenant_admin")
    client.force_login(tenant_admin)

    response = client.post(edit_path(tenant_admin), {"role": "member", "all_accounts": "on"})

    assert response.status_code == 302
    assert Membership.objects.get(user=tenant_admin).role == "member"


def test_another_tenants_member_is_404_and_untouched(client, tenant_admin, other_tenant_user):
    client.force_login(tenant_admin)
    path = edit_path(other_tenant_user)

    assert client.get(path).status_code == 404
    assert client.post(path, {"active": "0"}).status_code == 404
    assert client.get("/settings/members/999999/").status_code == 404
    other_tenant_user.refresh_from_db()
    assert other_tenant_user.is_active


def test_another_tenants_invitation_cannot_be_revoked(client, tenant_admin, nordwind):
    nordwind_admin = user_create(
        username="n-boss", password=PASSWORD, tenant=nordwind, role="tenant_admin"
    )
    invitation, _ = invitation_create(
        tenant=nordwind, email="x@example.com", invited_by=nordwind_admin
    )
    client.force_login(tenant_admin)

    response = client.post("/settings/members/", {"revoke_invitation": invitation.id})
    garbage = client.post("/settings/members/", {"revoke_invitation": "abc"})

    assert response.status_code == garbage.status_code == 404
    invitation.refresh_from_db()
    assert invitation.revoked_at is None


def test_every_members_form_requires_the_csrf_token(tenant_admin, granted_member, brenner):
    _, secret = invitation_create(tenant=brenner, email="ada@example.com", invited_by=tenant_admin)
    client = Client(enforce_csrf_checks=True)
    client.force_login(tenant_admin)

    answers = [
        client.post("/settings/members/", {"email": "eve@example.com", "all_accounts": "on"}),
        client.post(edit_path(granted_member), {"role": "tenant_admin", "all_accounts": "on"}),
        client.post(edit_path(granted_member), {"active": "0"}),
        Client(enforce_csrf_checks=True).post(
            f"/invitations/{secret}/",
            {
                "first_name": "Ada",
                "password1": "a-long-and-unusual-passphrase-77",
                "password2": "a-long-and-unusual-passphrase-77",
            },
        ),
    ]

    assert [answer.status_code for answer in answers] == [403, 403, 403, 403]
    granted_member.refresh_from_db()
    assert granted_member.is_active and granted_member.membership.role == "member"
    assert not AuditEntry.objects.exclude(action="user_invited").exists()
    page = client.get("/settings/members/").content.decode()
    assert page.count("csrfmiddlewaretoken") >= 2  # the invite form and the revoke button


def test_the_members_page_costs_the_same_queries_for_many_members(client, brenner, tenant_admin):
    def add_members(numbers: range) -> None:
        for number in numbers:
            user_create(
                username=f"clerk{number}",
                password="x",
                tenant=brenner,
                account_numbers=["C-1001"],
                finance=True,
            )
            invitation_create(
                tenant=brenner,
                email=f"new{number}@example.com",
                all_accounts=False,
                account_numbers=["C-1002"],
                invited_by=tenant_admin,
            )

    def queries_for_members_page() -> tuple[int, str]:
        with CaptureQueriesContext(connection) as queries:
            page = client.get("/settings/members/").content.decode()
        return len(queries), page

    client.force_login(tenant_admin)
    add_members(range(1))
    few, _ = queries_for_members_page()
    add_members(range(1, 12))
    many, page = queries_for_members_page()

    assert many == few
    assert page.count("C-1001") >= 24 and "new11@example.com" in page


def test_an_out_of_range_member_id_is_404_not_500(client, tenant_admin):
    client.force_login(tenant_admin)

    assert client.get(f"/settings/members/{10**30}/").status_code == 404
    assert client.post("/settings/members/", {"revoke_invitation": str(10**30)}).status_code == 404
