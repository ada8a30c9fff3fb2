"""`/api/v1/webhooks…` and the settings page: only tenant admins and tokens with the
`webhooks` scope manage webhooks, only their own tenant's; secrets are shown once; bad
input is a 400 naming the field, never a 500."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from integration.services.intake import receive_events
from integration.services.processing import process_inbox_until_empty
from tests.factories import ApiTokenFactory
from visibility.models import Notification, Webhook
from visibility.services.notifications import notifications_deliver

pytestmark = pytest.mark.django_db


class Receiver(BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Receiver.received.append((dict(self.headers), body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    Receiver.received = []
    server = HTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/hook"
    server.shutdown()


@pytest.fixture
def admin_token(brenner) -> str:
    return ApiTokenFactory(tenant=brenner, name="hooks", scopes=["webhooks"]).secret


@pytest.fixture
def other_admin_token(nordwind) -> str:
    return ApiTokenFactory(tenant=nordwind, name="their hooks", scopes=["webhooks"]).secret


def call(client, method, path, token, body=None):
    return getattr(client, method)(
        path,
        data=body,
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )


def create(client, token, **body):
    return call(
        client,
        "post",
        "/api/v1/webhooks",
        token,
        {"url": "https://hooks.example.com/in", "event_types": ["shipment.delivered"], **body},
    )


def test_a_token_with_the_webhooks_scope_manages_its_tenants_webhooks(client, admin_token, brenner):
    created = create(client, admin_token, description="ERP")
    assert created.status_code == 201
    webhook = created.json()
    assert webhook["secret"].startswith("whsec_")
    assert webhook["event_types"] == ["shipment.delivered"] and webhook["failing"] is False
    path = f"/api/v1/webhooks/{webhook['id']}"

    listed = call(client, "get", "/api/v1/webhooks", admin_token).json()["results"]
    assert [row["id"] for row in listed] == [webhook["id"]]
    assert "secret" not in listed[0]
    assert "secret" not in call(client, "get", path, admin_token).json()

    changed = call(
        client, "patch", path, admin_token, {"event_types": ["invoice.paid", "shipment.milestone"]}
    )
    assert changed.status_code == 200
    assert changed.json()["event_types"] == ["invoice.paid", "shipment.milestone"]
    assert changed.json()["description"] == "ERP"

    rotated = call(client, "post", f"{path}/rotate-secret", admin_token, {}).json()
    assert rotated["secret"].startswith("whsec_") and rotated["secret"] != webhook["secret"]
    assert rotated["previous_secret_expires_at"]
    stored = Webhook.objects.get()
    assert (stored.secret, stored.previous_secret) == (rotated["secret"], webhook["secret"])
    assert stored.tenant == brenner

    assert call(client, "delete", path, admin_token).status_code == 204
    assert call(client, "get", path, admin_token).status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"event_types": ["shipment.teleported"]}, "event_types"),
        ({"event_types": []}, "event_types"),
        ({"url": "not a url"}, "url"),
        ({"url": "ftp://hooks.example.com/in"}, "url"),
        ({"url": "http://127.0.0.1/hook"}, "url"),
        ({"url": "http://169.254.169.254/latest/meta-data"}, "url"),
        ({"url": "https://x.example/" + "a" * 600}, "url"),
        ({"description": "x" * 201}, "description"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(client, admin_token, body, field):
    response = create(client, admin_token, **body)

    assert response.status_code == 400
    assert field in response.content.decode()
    assert not Webhook.objects.exists()


def test_a_bad_rotation_window_is_a_400(client, admin_token):
    webhook = create(client, admin_token).json()

    response = call(
        client,
        "post",
        f"/api/v1/webhooks/{webhook['id']}/rotate-secret",
        admin_token,
        {"expire_previous_in_hours": 1000},
    )

    assert response.status_code == 400
    assert "expire_previous_in_hours" in response.content.decode()


def test_who_may_not_manage_webhooks(
    client, brenner, partner_token, customer_user, tenant_admin, admin_token
):
    assert call(client, "get", "/api/v1/webhooks", partner_token).status_code == 403
    revoked = ApiTokenFactory(tenant=brenner, name="old", scopes=["webhooks"])
    revoked.revoked_at = revoked.created_at
    revoked.save()
    assert call(client, "get", "/api/v1/webhooks", revoked.secret).status_code in (401, 403)
    assert client.get("/api/v1/webhooks").status_code in (401, 403)
    client.force_login(customer_user)
    assert client.get("/api/v1/webhooks").status_code == 403
    client.force_login(tenant_admin)
    assert client.get("/api/v1/webhooks").status_code == 200


def test_another_tenants_webhooks_and_deliveries_do_not_exist(
    client, brenner, admin_token, other_admin_token, story
):
    theirs = create(client, other_admin_token).json()
    mine = create(client, admin_token).json()
    for event in story:
        receive_events(source=event["source"], events=[event])
    process_inbox_until_empty()
    delivery = Notification.objects.get(subscriber=f"webhook:{mine['id']}")

    listed = call(client, "get", "/api/v1/webhooks", other_admin_token).json()["results"]
    assert [row["id"] for row in listed] == [theirs["id"]]
    base = f"/api/v1/webhooks/{mine['id']}"
    for method, path in [
        ("get", base),
        ("patch", base),
        ("delete", base),
        ("post", f"{base}/rotate-secret"),
        ("post", f"{base}/ping"),
        ("get", f"{base}/deliveries"),
        ("post", f"/api/v1/webhook-deliveries/{delivery.id}/redeliver"),
    ]:
        assert call(client, method, path, other_admin_token, {}).status_code == 404, path
    assert Webhook.objects.filter(id=mine["id"], active=True).exists()
    assert call(client, "get", f"{base}/deliveries", admin_token).status_code == 200


def test_ping_deliveries_log_and_redelivery(client, admin_token, receiver, story):
    webhook = create(
        client, admin_token, url=receiver, event_types=["shipment.milestone", "shipment.delivered"]
    ).json()
    base = f"/api/v1/webhooks/{webhook['id']}"

    ping = call(client, "post", f"{base}/ping", admin_token, {})
    assert ping.status_code == 200 and ping.json()["ok"] is True
    assert ping.json()["delivery"]["event_type"] == "webhook.ping"
    assert ping.json()["delivery"]["attempts"][0]["status_code"] == 204
    [(headers, _)] = Receiver.received
    assert headers["Portal-Event-Type"] == "webhook.ping"

    for event in story:
        receive_events(source=event["source"], events=[event])
    process_inbox_until_empty()
    notifications_deliver()

    first = call(client, "get", f"{base}/deliveries?page_size=3", admin_token).json()
    assert len(first["results"]) == 3 and first["next"]
    seen = [row["id"] for row in first["results"]]
    rest = client.get(first["next"], headers={"Authorization": f"Bearer {admin_token}"}).json()
    seen += [row["id"] for row in rest["results"]]
    while rest["next"]:
        rest = client.get(rest["next"], headers={"Authorization": f"Bearer {admin_token}"}).json()
        seen += [row["id"] for row in rest["results"]]
    assert len(seen) == len(set(seen)) == 8  # the ping, six milestones, one delivery
    row = first["results"][0]
    assert row["state"] == "sent" and row["attempts"][0]["attempt"] == 1

    again = call(client, "post", f"/api/v1/webhook-deliveries/{row['id']}/redeliver", admin_token)
    assert again.status_code == 202 and again.json()["state"] == "pending"
    assert notifications_deliver() == 1
    log = call(client, "get", f"{base}/deliveries?page_size=1", admin_token).json()["results"][0]
    assert [attempt["attempt"] for attempt in log["attempts"]] == [2, 1]
    assert (
        call(client, "post", "/api/v1/webhook-deliveries/999999/redeliver", admin_token).status_code
        == 404
    )


def test_the_settings_page_rotates_pings_and_redelivers(client, tenant_admin, brenner, receiver):
    client.force_login(tenant_admin)
    page = client.post(
        "/settings/webhooks/",
        {"url": receiver, "event_type": ["shipment.delivered", "invoice.paid"]},
    ).content.decode()
    webhook = Webhook.objects.get()
    assert webhook.secret in page
    assert webhook.event_types == ["invoice.paid", "shipment.delivered"]

    page = client.post("/settings/webhooks/", {"rotate": webhook.id}).content.decode()
    old = webhook.secret
    webhook.refresh_from_db()
    assert webhook.secret in page and webhook.previous_secret == old
    assert webhook.secret not in client.get("/settings/webhooks/").content.decode()

    page = client.post("/settings/webhooks/", {"ping": webhook.id}, follow=True).content.decode()
    assert "Ping answered HTTP 204" in page
    ping = Notification.objects.get(trigger="ping")
    assert f'data-testid="delivery-{ping.id}"' in page

    client.post("/settings/webhooks/", {"save_types": webhook.id, "event_type": ["invoice.paid"]})
    webhook.refresh_from_db()
    assert webhook.event_types == ["invoice.paid"]

    client.post("/settings/webhooks/", {"redeliver": ping.id})
    ping.refresh_from_db()
    assert ping.state == "pending"
    assert notifications_deliver() == 1
    assert len(Receiver.received) == 2
    assert "<script>" not in page and 'style="' not in page


def test_the_settings_page_refuses_another_tenants_delivery(client, tenant_admin, nordwind):
    theirs = Notification.objects.create(
        shipment_ref="SHP-1",
        trigger="delivery",
        subscriber="webhook:1",
        tenant=nordwind,
        payload={},
    )
    client.force_login(tenant_admin)

    assert client.post("/settings/webhooks/", {"redeliver": theirs.id}).status_code == 404
