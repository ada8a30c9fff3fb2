"""Platform admins assign ERP customer accounts to tenants in the Django admin; the
events held while nobody owned the account are then projected."""

from __future__ import annotations

import pytest

from accounts.models import (
    AuditEntry,
    CustomerAccount,
    CustomerAccountUserObjectPermission,
    Membership,
    Tenant,
)
from accounts.services import tenant_create_or_update, user_create
from integration.models import InboxEvent, InboxState
from integration.services.intake import receive_events
from integration.services.processing import process_inbox_until_empty
from tests.factories import PASSWORD
from tests.helpers import sign_in_verified
from visibility.models import Shipment

pytestmark = pytest.mark.django_db


@pytest.fixture
def held_story(story):
    for event in story:
        receive_events(source=event["source"], events=[event])
    process_inbox_until_empty()
    assert InboxEvent.objects.filter(state=InboxState.HELD, waiting_for="account:C-1001").exists()
    return CustomerAccount.objects.get(number="C-1001")


def test_assigning_an_account_in_the_admin_releases_its_held_events(
    client, platform_admin, held_story
):
    tenant = tenant_create_or_update(slug="brenner", name="Brenner Tools", account_numbers=[])
    sign_in_verified(client, platform_admin)

    response = client.post(
        f"/admin/accounts/customeraccount/{held_story.id}/change/",
        {"number": "C-1001", "name": "Brenner main", "tenant": tenant.id},
    )
    process_inbox_until_empty()

    assert response.status_code == 302
    assert Shipment.objects.get(shipment_id="SHP-778120").customer_account.tenant == tenant
    assert not InboxEvent.objects.filter(state=InboxState.HELD).exists()


def test_adding_the_account_on_the_tenant_page_releases_its_held_events(
    client, platform_admin, held_story
):
    tenant = tenant_create_or_update(slug="brenner", name="Brenner Tools", account_numbers=[])
    sign_in_verified(client, platform_admin)
    CustomerAccount.objects.filter(id=held_story.id).delete()  # not yet known to the admin

    response = client.post(
        f"/admin/accounts/tenant/{tenant.id}/change/",
        {
            "slug": "brenner",
            "name": "Brenner Tools",
            "accounts-TOTAL_FORMS": "1",
            "accounts-INITIAL_FORMS": "0",
            "accounts-MIN_NUM_FORMS": "0",
            "accounts-MAX_NUM_FORMS": "1000",
            "accounts-0-number": "C-1001",
            "accounts-0-name": "",
            "accounts-0-tenant": tenant.id,
        },
    )
    process_inbox_until_empty()

    assert response.status_code == 302, response.content.decode()[:2000]
    assert Shipment.objects.filter(
        shipment_id="SHP-778120", customer_account__tenant=tenant
    ).exists()


def test_moving_an_account_drops_the_old_tenants_grants(client, platform_admin, brenner, nordwind):
    clerk = user_create(
        username="clerk", password=PASSWORD, tenant=brenner, account_numbers=["C-1002"]
    )
    account = CustomerAccount.objects.get(number="C-1002")
    sign_in_verified(client, platform_admin)

    client.post(
        f"/admin/accounts/customeraccount/{account.id}/change/",
        {"number": "C-1002", "name": "", "tenant": nordwind.id},
    )

    assert CustomerAccount.objects.get(number="C-1002").tenant == Tenant.objects.get(
        slug="nordwind"
    )
    assert not CustomerAccountUserObjectPermission.objects.filter(user=clerk).exists()


def test_unassigning_an_account_drops_every_grant_on_it(client, platform_admin, brenner):
    clerk = user_create(
        username="clerk", password=PASSWORD, tenant=brenner, account_numbers=["C-1002"]
    )
    account = CustomerAccount.objects.get(number="C-1002")
    sign_in_verified(client, platform_admin)

    client.post(
        f"/admin/accounts/customeraccount/{account.id}/change/",
        {"number": "C-1002", "name": "", "tenant": ""},
    )

    assert CustomerAccount.objects.get(number="C-1002").tenant is None
    assert not CustomerAccountUserObjectPermission.objects.filter(user=clerk).exists()


def test_membership_changes_in_the_admin_keep_grants_in_step_and_are_audited(
    client, platform_admin, brenner
):
    clerk = user_create(
        username="clerk", password=PASSWORD, tenant=brenner, account_numbers=["C-1002"]
    )
    membership = clerk.membership
    sign_in_verified(client, platform_admin)

    response = client.post(
        f"/admin/accounts/membership/{membership.id}/change/",
        {"role": "member", "all_accounts": "on", "finance": "on"},
    )

    assert response.status_code == 302
    assert not CustomerAccountUserObjectPermission.objects.filter(user=clerk).exists()
    entry = AuditEntry.objects.get(action="entitlement_changed")
    assert (entry.actor, entry.target) == ("user:root", "user:clerk")
    assert entry.details["after"]["all_accounts"] is True


def test_the_admin_refuses_to_demote_a_tenants_last_admin(client, platform_admin, brenner):
    boss = user_create(username="boss", password=PASSWORD, tenant=brenner, role="tenant_admin")
    sign_in_verified(client, platform_admin)

    response = client.post(
        f"/admin/accounts/membership/{boss.membership.id}/change/",
        {"role": "member", "all_accounts": "on"},
    )

    assert response.status_code == 200
    assert "at least one active tenant admin" in response.content.decode()
    assert Membership.objects.get(user=boss).role == "tenant_admin"


def test_adding_a_membership_in_the_admin_is_audited(client, platform_admin, brenner):
    newcomer = user_create(username="newcomer", password=PASSWORD)
    sign_in_verified(client, platform_admin)

    response = client.post(
        "/admin/accounts/membership/add/",
        {"user": newcomer.id, "tenant": brenner.id, "role": "tenant_admin"},
    )

    assert response.status_code == 302
    assert Membership.objects.get(user=newcomer).role == "tenant_admin"
    assert AuditEntry.objects.filter(action="entitlement_changed", target="user:newcomer").exists()


def test_the_admin_offers_no_unaudited_way_to_grant_accounts(client, platform_admin, brenner):
    """Guardian's object-permission pages would change grants without the audit trail;
    grants change only on the members page."""
    account = CustomerAccount.objects.get(number="C-1001")
    sign_in_verified(client, platform_admin)

    response = client.get(f"/admin/accounts/customeraccount/{account.id}/permissions/", follow=True)

    assert b"Object permissions" not in response.content
    assert (
        not CustomerAccountUserObjectPermission.objects.filter(content_object=account)
        .exclude(user__membership__tenant=account.tenant)
        .exists()
    )
