"""A deactivated tenant: members signed out, partner tokens refused, events still accepted
and projected, nothing deleted; another tenant is untouched; reactivating restores it."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from accounts.models import ApiToken, AuditAction, AuditEntry, Membership, Tenant
from accounts.services import membership_set_active
from accounts.services.tenants import deactivate_tenant, reactivate_tenant
from tests.factories import PASSWORD, ApiTokenFactory, TenantAdminFactory
from tests.helpers import send_story, sign_in_verified
from visibility.models import Shipment

pytestmark = pytest.mark.django_db


def api_get(client, token: str, path: str = "/api/v1/shipments"):
    return client.get(path, HTTP_AUTHORIZATION=f"Bearer {token}")


def test_members_are_signed_out_at_their_next_request(client, brenner, customer_user):
    assert client.login(username="customer", password=PASSWORD)
    assert client.get("/shipments/").status_code == 200

    deactivate_tenant(tenant=brenner, actor="test")

    response = client.get("/shipments/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")
    assert "_auth_user_id" not in client.session
    # Signing in again is refused, with a reason only the password's owner reads.
    refused = client.post("/login/", {"username": "customer", "password": PASSWORD})
    assert refused.status_code == 200
    assert "access to the portal is suspended" in refused.content.decode()
    assert "_auth_user_id" not in client.session
    wrong = client.post("/login/", {"username": "customer", "password": "wrong"})
    assert "suspended" not in wrong.content.decode()


def test_another_tenants_members_and_tokens_are_untouched(
    client, brenner, other_tenant_user, other_tenant_token
):
    deactivate_tenant(tenant=brenner, actor="test")

    assert client.login(username="nordwind-user", password=PASSWORD)
    assert client.get("/shipments/").status_code == 200
    assert api_get(client, other_tenant_token).status_code == 200


def test_partner_tokens_are_refused_with_401(client, brenner, partner_token):
    assert api_get(client, partner_token).status_code == 200

    deactivate_tenant(tenant=brenner, actor="test")

    response = api_get(client, partner_token)
    assert response.status_code == 401
    assert "Bearer" in response["WWW-Authenticate"]
    graphql = client.post(
        "/graphql",
        data={"query": "{ __typename }"},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {partner_token}",
    )
    assert graphql.status_code == 401


def test_events_are_still_accepted_and_projected_and_nothing_is_deleted(
    client, brenner, customer_user, partner_token, source_tokens, story
):
    deactivate_tenant(tenant=brenner, actor="test")

    send_story(client, source_tokens, story)  # asserts every event is answered 202

    assert Shipment.objects.filter(shipment_id="SHP-778120").exists()
    assert Membership.objects.filter(tenant=brenner).count() == 1
    assert ApiToken.objects.filter(tenant=brenner, revoked_at__isnull=True).count() == 1

    reactivate_tenant(tenant=brenner, actor="test")

    assert api_get(client, partner_token, "/api/v1/shipments/SHP-778120").status_code == 200
    assert client.login(username="customer", password=PASSWORD)
    assert "SHP-778120" in client.get("/shipments/").content.decode()


def test_changes_are_audited_once(brenner):
    deactivate_tenant(tenant=brenner, actor="ops", reason="unpaid")
    deactivate_tenant(tenant=brenner, actor="ops")  # already inactive: nothing to record
    reactivate_tenant(tenant=brenner, actor="ops")

    actions = list(
        AuditEntry.objects.filter(tenant=brenner)
        .order_by("id")
        .values_list("action", "actor", "details")
    )
    assert actions == [
        (AuditAction.TENANT_DEACTIVATED, "ops", {"reason": "unpaid"}),
        (AuditAction.TENANT_REACTIVATED, "ops", {}),
    ]


def test_the_management_command(brenner, nordwind):
    call_command("set_tenant_active", "brenner", "--deactivate", "--reason", "contract ended")

    assert Tenant.objects.get(slug="brenner").is_active is False
    assert Tenant.objects.get(slug="nordwind").is_active is True

    call_command("set_tenant_active", "brenner", "--reactivate")

    assert Tenant.objects.get(slug="brenner").is_active is True


def test_the_admin_action(client, brenner, nordwind, platform_admin):
    sign_in_verified(client, platform_admin)

    response = client.post(
        "/admin/accounts/tenant/",
        {"action": "deactivate", "_selected_action": [brenner.pk]},
    )

    assert response.status_code == 302
    assert Tenant.objects.get(slug="brenner").is_active is False
    assert Tenant.objects.get(slug="nordwind").is_active is True
    entry = AuditEntry.objects.get(action=AuditAction.TENANT_DEACTIVATED)
    assert entry.actor == "user:root"


def test_a_token_outlives_its_deactivated_creator(client, brenner, tenant_admin):
    """The documented choice (docs/OPERATIONS.md): a token is the tenant's, not its
    creator's; revoking it is the offboarding step."""
    second_admin = TenantAdminFactory(username="boss-2", tenant=brenner)
    token = ApiTokenFactory(tenant=brenner, name="erp", created_by=second_admin)
    membership_set_active(
        membership=Membership.objects.get(user=second_admin), active=False, changed_by=tenant_admin
    )

    assert api_get(client, token.secret).status_code == 200
