"""The tenant admin's settings area: one sub-navigation with the current page marked,
and API token scopes chosen explicitly ("All data" is a choice, not an empty tick list)."""

from __future__ import annotations

import pytest

from accounts.models import ApiToken
from tests.helpers import sign_in_verified

pytestmark = pytest.mark.django_db

ADMIN_PAGES = {
    "/settings/members/": "Members, invitations and grants",
    "/settings/tokens/": "API tokens",
    "/settings/notifications/": "Notification rules",
    "/settings/audit/": "Audit log",
}


@pytest.mark.parametrize("path, current", ADMIN_PAGES.items())
def test_every_settings_page_has_the_sub_navigation_with_its_page_marked(
    client, tenant_admin, path, current
):
    sign_in_verified(client, tenant_admin)

    page = client.get(path).content.decode()

    assert 'aria-label="Settings"' in page
    for label in ADMIN_PAGES.values():
        assert label in page
    assert f'aria-current="page">{current}</a>' in page
    assert 'href="/settings/webhooks/"' in page


def test_a_member_sees_only_their_own_settings(client, customer_user):
    sign_in_verified(client, customer_user)

    page = client.get("/settings/notifications/").content.decode()

    assert "Notification rules" in page and "API tokens" not in page
    assert client.get("/settings/")["Location"] == "/settings/notifications/"


def test_settings_home_sends_admins_to_members_and_staff_nowhere(client, tenant_admin, cs_staff):
    sign_in_verified(client, tenant_admin)
    assert client.get("/settings/")["Location"] == "/settings/members/"
    sign_in_verified(client, cs_staff)
    assert client.get("/settings/").status_code == 404


def test_a_token_without_an_explicit_choice_is_not_created(client, tenant_admin):
    sign_in_verified(client, tenant_admin)

    for form in (
        {"name": "no choice"},
        {"name": "none ticked", "scope_mode": "chosen", "account_mode": "all"},
        {"name": "no account", "scope_mode": "all", "account_mode": "chosen"},
        {"name": "odd", "scope_mode": "everything", "account_mode": "all"},
    ):
        page = client.post("/settings/tokens/", form).content.decode()
        assert 'role="alert"' in page, form
        assert 'data-testid="new-token"' not in page

    assert not ApiToken.objects.exists()


def test_all_data_is_stored_and_shown_as_a_choice(client, tenant_admin):
    sign_in_verified(client, tenant_admin)

    client.post("/settings/tokens/", {"name": "all", "scope_mode": "all", "account_mode": "all"})
    client.post(
        "/settings/tokens/",
        {
            "name": "money",
            "scope_mode": "chosen",
            "scope": ["invoices"],
            "account_mode": "chosen",
            "account": ["C-1001"],
            # Ticks under "all" are ignored: the radio decides.
        },
    )
    page = client.get("/settings/tokens/").content.decode()

    assert ApiToken.objects.get(name="all").scopes == []
    assert ApiToken.objects.get(name="money").scopes == ["invoices"]
    assert "All data" in page and "Invoices and freight charges" in page
    assert "All accounts" in page
    assert "none ticked: all" not in page


def test_a_tenant_admin_requires_a_second_factor_for_its_members_audited(
    client, tenant_admin, customer_user, brenner
):
    from django.test import Client

    from accounts.models import AuditAction, AuditEntry

    sign_in_verified(client, tenant_admin)
    assert "Not required" in client.get("/settings/members/").content.decode()

    response = client.post("/settings/members/", {"require_second_factor": "1"})

    assert response.status_code == 302
    brenner.refresh_from_db()
    assert brenner.require_second_factor
    page = client.get("/settings/members/").content.decode()
    assert "Required: every member signs in with a code" in page
    entry = AuditEntry.objects.get(action=AuditAction.SECOND_FACTOR_POLICY_CHANGED)
    assert entry.tenant_id == brenner.id and entry.details == {"required": True}
    assert entry.actor.endswith("boss") or "boss" in entry.actor

    # A member without an authenticator is now sent to set one up before any page.
    member = Client()
    member.force_login(customer_user)
    assert member.get("/shipments/")["Location"].startswith("/account/second-factor/")

    client.post("/settings/members/", {"require_second_factor": "0"})
    client.post("/settings/members/", {"require_second_factor": "0"})  # no change: no entry
    brenner.refresh_from_db()
    assert not brenner.require_second_factor
    assert member.get("/shipments/").status_code == 200
    changes = AuditEntry.objects.filter(action=AuditAction.SECOND_FACTOR_POLICY_CHANGED)
    assert [entry.details["required"] for entry in changes.order_by("id")] == [True, False]


def test_members_cannot_change_the_second_factor_requirement(client, customer_user, brenner):
    sign_in_verified(client, customer_user)

    response = client.post("/settings/members/", {"require_second_factor": "1"})

    assert response.status_code == 404
    brenner.refresh_from_db()
    assert not brenner.require_second_factor
