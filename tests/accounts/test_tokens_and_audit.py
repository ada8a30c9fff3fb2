"""Partner tokens: created by tenant admins, shown once, hashed, limited, revocable, rate
limited; the audit log records it all, and staff looks into tenant data."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from accounts.models import ApiToken, AuditEntry
from accounts.selectors import audit_entries
from tests.helpers import sign_in_verified

pytestmark = pytest.mark.django_db


def create_token(client, **form):
    page = client.post("/settings/tokens/", form).content.decode()
    return page.split('data-testid="new-token">')[1].split("<")[0]


def test_admin_creates_a_limited_token_shown_once_and_stored_hashed(
    client, tenant_admin, delivered_story
):
    client.force_login(tenant_admin)

    secret = create_token(
        client,
        name="ERP pull",
        scope_mode="chosen",
        scope=["shipments"],
        account_mode="chosen",
        account=["C-1002"],
        expires_in_days="30",
    )

    token = ApiToken.objects.get(name="ERP pull")
    assert secret not in client.get("/settings/tokens/").content.decode()
    assert token.token_hash != secret and secret.startswith(token.prefix)
    assert list(token.accounts.values_list("number", flat=True)) == ["C-1002"]
    client.logout()
    response = client.get("/api/v1/shipments/SHP-778120", HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert response.status_code == 404  # SHP-778120 is on C-1001


def test_revoked_token_is_refused_and_both_acts_are_audited(client, tenant_admin, delivered_story):
    client.force_login(tenant_admin)
    secret = create_token(client, name="temp", scope_mode="all", account_mode="all")
    token = ApiToken.objects.get(name="temp")

    client.post("/settings/tokens/", {"revoke": token.id})
    client.logout()

    response = client.get("/api/v1/shipments/SHP-778120", HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert response.status_code == 401
    assert list(
        AuditEntry.objects.filter(target=f"token:{token.prefix}").values_list("action", "actor")
    ) == [("token_created", "user:boss"), ("token_revoked", "user:boss")]


def test_token_over_its_rate_gets_429_with_retry_after(
    client, delivered_story, partner_token, settings
):
    settings.API_TOKEN_RATE = "3/min"
    cache.clear()
    headers = {"HTTP_AUTHORIZATION": f"Bearer {partner_token}"}

    answers = [client.get("/api/v1/shipments/SHP-778120", **headers) for _ in range(4)]

    assert [answer.status_code for answer in answers] == [200, 200, 200, 429]
    assert int(answers[-1]["Retry-After"]) > 0
    assert answers[-1].json()["type"].endswith("/rate-limited")


def test_members_cannot_manage_tokens_or_read_the_audit_log(client, customer_user):
    client.force_login(customer_user)

    assert client.get("/settings/tokens/").status_code == 404
    assert client.get("/settings/audit/").status_code == 404


def test_staff_looks_are_audited_for_the_tenant_who_can_read_them(
    client, delivered_story, brenner, tenant_admin, cs_staff
):
    sign_in_verified(client, cs_staff)
    client.get("/shipments/SHP-778120/")
    client.get("/search/", {"q": "SO-100045"})

    client.force_login(tenant_admin)
    page = client.get("/settings/audit/").content.decode()

    entries = [
        (entry.action, entry.target)
        for entry in audit_entries(tenant_id=brenner.id)
        if entry.actor == "user:cs"
    ]
    # The search by staff serving every tenant could show any tenant's references.
    assert entries == [
        ("staff_viewed", "/search/?q=SO-100045"),
        ("staff_viewed", "shipment:SHP-778120"),
    ]
    assert "Staff looked at tenant data" in page and "/search/?q=SO-100045" in page


def test_tenants_own_users_looking_is_not_a_staff_look(client, delivered_story, customer_user):
    client.force_login(customer_user)
    client.get("/shipments/SHP-778120/")

    assert not AuditEntry.objects.filter(action="staff_viewed").exists()
