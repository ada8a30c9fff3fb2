"""Users choose their notifications; tenant admins manage webhooks and read their log."""

from __future__ import annotations

import pytest

from visibility.models import NotificationSubscription, Webhook

pytestmark = pytest.mark.django_db


def test_user_subscribes_and_unsubscribes(client, customer_user, brenner):
    client.force_login(customer_user)

    client.post("/settings/notifications/", {"trigger": ["delay", "delivery"]})
    assert set(
        NotificationSubscription.objects.filter(user=customer_user).values_list(
            "trigger", flat=True
        )
    ) == {"delay", "delivery"}

    client.post("/settings/notifications/", {"trigger": ["exception"]})
    assert set(
        NotificationSubscription.objects.filter(user=customer_user).values_list(
            "trigger", flat=True
        )
    ) == {"exception"}
    page = client.get("/settings/notifications/").content.decode()
    assert 'value="exception" checked' in page


def test_tenant_admin_adds_a_webhook_and_sees_its_secret_once(client, brenner, tenant_admin):
    client.force_login(tenant_admin)

    page = client.post(
        "/settings/webhooks/",
        {"url": "https://erp.example.com/hook", "event_type": ["shipment.delivered"]},
    ).content.decode()

    webhook = Webhook.objects.get()
    assert (webhook.tenant, webhook.event_types) == (brenner, ["shipment.delivered"])
    assert webhook.secret in page
    assert webhook.secret not in client.get("/settings/webhooks/").content.decode()


def test_bad_webhook_url_is_a_clear_error(client, tenant_admin):
    client.force_login(tenant_admin)

    response = client.post(
        "/settings/webhooks/", {"url": "not a url", "event_type": ["shipment.delayed"]}
    )

    assert response.status_code == 200
    assert "Enter a valid URL" in response.content.decode()
    assert not Webhook.objects.exists()


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://10.1.2.3/hook",
        "http://localhost/hook",
        "http://[::1]/hook",
        "http://169.254.169.254/latest/meta-data",
    ],
)
def test_webhooks_cannot_point_inside_the_network(client, tenant_admin, url):
    client.force_login(tenant_admin)

    response = client.post("/settings/webhooks/", {"url": url, "event_type": ["shipment.delayed"]})

    assert response.status_code == 200
    assert "webhooks cannot point at" in response.content.decode()
    assert not Webhook.objects.exists()


def test_members_cannot_manage_webhooks(client, customer_user):
    client.force_login(customer_user)

    assert client.get("/settings/webhooks/").status_code == 404


def test_an_admin_cannot_deactivate_another_tenants_webhook(client, tenant_admin, nordwind):
    theirs = Webhook.objects.create(
        tenant=nordwind, url="https://n.example/h", secret="x", event_types=["shipment.delayed"]
    )
    client.force_login(tenant_admin)

    assert client.post("/settings/webhooks/", {"deactivate": theirs.id}).status_code == 404
    theirs.refresh_from_db()
    assert theirs.active
