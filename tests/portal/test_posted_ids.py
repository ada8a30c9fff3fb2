"""Ids posted by the settings pages (revoke a token, deactivate a webhook, withdraw an
invitation) are parsed by a form before they reach a query: a malformed, unknown or
another tenant's id names none of the tenant's rows, answers 404 and changes nothing;
none is ever a 500."""

from __future__ import annotations

import pytest

from accounts.models import ApiToken, Invitation
from accounts.services import api_token_create, invitation_create, user_create
from tests.factories import PASSWORD
from visibility.models import Webhook
from visibility.services.subscriptions import webhook_create

pytestmark = pytest.mark.django_db

MALFORMED = ["abc", "", " ", "1.5", "-3", "0", "99999999999999999999", "1\x00"]


@pytest.fixture
def admin_client(client, brenner):
    admin = user_create(username="boss", password=PASSWORD, tenant=brenner, role="tenant_admin")
    client.force_login(admin)
    client.admin = admin
    return client


def ours_and_theirs(kind: str, brenner, nordwind, admin) -> tuple[int, int]:
    """The id of one row of Brenner's and one of Nordwind's, for the page of `kind`."""
    if kind == "webhook":
        rows = [
            webhook_create(
                tenant=tenant, url="https://erp.example.com/hook", event_types=["shipment.delayed"]
            )
            for tenant in (brenner, nordwind)
        ]
    elif kind == "token":
        rows = [api_token_create(tenant=tenant, name="erp")[0] for tenant in (brenner, nordwind)]
    else:
        other_admin = user_create(
            username="nordwind-boss", password=PASSWORD, tenant=nordwind, role="tenant_admin"
        )
        rows = [
            invitation_create(tenant=tenant, email=f"new@{tenant.slug}.example", invited_by=by)[0]
            for tenant, by in ((brenner, admin), (nordwind, other_admin))
        ]
    return rows[0].id, rows[1].id


PAGES = {
    "webhook": ("/settings/webhooks/", "deactivate"),
    "token": ("/settings/tokens/", "revoke"),
    "invitation": ("/settings/members/", "revoke_invitation"),
}


def untouched() -> bool:
    return (
        Webhook.objects.filter(active=False).count() == 0
        and ApiToken.objects.filter(revoked_at__isnull=False).count() == 0
        and Invitation.objects.filter(revoked_at__isnull=False).count() == 0
    )


@pytest.mark.parametrize("kind", PAGES)
@pytest.mark.parametrize("value", MALFORMED)
def test_a_malformed_posted_id_is_a_404(admin_client, brenner, nordwind, kind, value):
    ours_and_theirs(kind, brenner, nordwind, admin_client.admin)
    url, field = PAGES[kind]

    response = admin_client.post(url, {field: value})

    assert response.status_code == 404
    assert untouched()


@pytest.mark.parametrize("kind", PAGES)
def test_another_tenants_or_an_unknown_id_is_a_404(admin_client, brenner, nordwind, kind):
    _, theirs = ours_and_theirs(kind, brenner, nordwind, admin_client.admin)
    url, field = PAGES[kind]

    assert admin_client.post(url, {field: theirs}).status_code == 404
    assert admin_client.post(url, {field: theirs + 1000}).status_code == 404
    assert untouched()


@pytest.mark.parametrize("kind", PAGES)
def test_the_tenants_own_id_is_acted_on(admin_client, brenner, nordwind, kind):
    ours, theirs = ours_and_theirs(kind, brenner, nordwind, admin_client.admin)
    url, field = PAGES[kind]

    response = admin_client.post(url, {field: str(ours)})

    assert response.status_code == 302
    model = {"webhook": Webhook, "token": ApiToken, "invitation": Invitation}[kind]
    changed = model.objects.get(id=ours)
    assert (changed.active is False) if kind == "webhook" else (changed.revoked_at is not None)
    other = model.objects.get(id=theirs)
    assert (other.active is True) if kind == "webhook" else (other.revoked_at is None)
