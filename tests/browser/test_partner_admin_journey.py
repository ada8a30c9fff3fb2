"""The partner's tenant admin in a real Chromium (issue #18, "Tenant admin"): creates an
API token with scopes chosen explicitly, sees its secret once, registers a webhook to a
receiver listening on loopback, chooses its event types, pings it and finds the delivery
in the log, and the receiver got a request signed with the secret the page showed. Every
page they pass is checked with axe (0 serious or critical) and saved as a screenshot; the
settings pages are then walked again at 390 px without page-level horizontal scroll."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from accounts.models import ApiToken
from tests.browser.axe_console import screenshot, serious_violations
from tests.factories import PASSWORD
from tests.helpers import browser_sign_in
from visibility.models import Webhook

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SETTINGS_PAGES = (
    ("/settings/members/", "members"),
    ("/settings/tokens/", "tokens"),
    ("/settings/webhooks/", "webhooks"),
    ("/settings/notifications/", "notifications"),
    ("/settings/audit/", "audit"),
)


class Receiver(BaseHTTPRequestHandler):
    received: list[tuple[dict[str, str], bytes]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Receiver.received.append((dict(self.headers), body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def receiver(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True  # the receiver listens on loopback
    Receiver.received = []
    server = HTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook"
    server.shutdown()
    server.server_close()


def check_page(page, name: str) -> None:
    screenshot(page, name)
    assert serious_violations(page) == [], name


def signature_is_valid(header: str, secret: str, body: bytes) -> bool:
    """`Portal-Signature: t=<unix time>,v1=<hex>`: HMAC-SHA256 of `t + "." + body`."""
    parts = [part.split("=", 1) for part in header.split(",")]
    stamps = [value for key, value in parts if key == "t"]
    signatures = [value for key, value in parts if key == "v1"]
    if len(stamps) != 1 or not signatures:
        return False
    expected = hmac.new(secret.encode(), stamps[0].encode() + b"." + body, hashlib.sha256)
    return any(hmac.compare_digest(expected.hexdigest(), given) for given in signatures)


def test_tenant_admin_creates_a_scoped_token_and_a_pinged_webhook(
    page, live_server, tenant_admin, receiver
):
    browser_sign_in(page, live_server.url, "boss", PASSWORD)

    page.get_by_role("link", name="Settings").first.click()
    settings_nav = page.get_by_role("navigation", name="Settings")
    settings_nav.get_by_role("link", name="API tokens").click()
    page.get_by_role("heading", name="API tokens for Brenner Tools").wait_for()
    check_page(page, "partner-admin-tokens")

    # "All" is a choice, not the absence of one: the admin picks "Only what I tick".
    page.get_by_label("Name").fill("ERP connector")
    page.get_by_label("Only what I tick:").check()
    page.get_by_label("Orders and shipments", exact=True).check()
    page.get_by_label("Documents", exact=True).check()
    page.get_by_label("All of Brenner Tools").check()
    page.get_by_role("button", name="Create token").click()

    secret = page.get_by_test_id("new-token").inner_text().strip()
    assert secret
    assert page.get_by_role("status").filter(has_text="shown once").is_visible()
    token = ApiToken.objects.get(name="ERP connector")
    assert sorted(token.scopes) == ["documents", "shipments"]
    assert secret.startswith(token.prefix) and secret not in token.token_hash
    row = page.get_by_role("row").filter(has_text="ERP connector")
    assert "Orders and shipments" in row.inner_text() and "Documents" in row.inner_text()
    assert "Invoices" not in row.inner_text()
    check_page(page, "partner-admin-token-created")

    # Shown once: the next visit lists the token but never its secret.
    page.goto(f"{live_server.url}/settings/tokens/")
    assert page.get_by_test_id("new-token").count() == 0
    assert secret not in page.content()

    settings_nav.get_by_role("link", name="Webhooks").click()
    page.get_by_role("heading", name="Webhooks for Brenner Tools").wait_for()
    check_page(page, "partner-admin-webhooks")
    page.get_by_label("URL").fill(receiver)
    page.get_by_label("Description").fill("ERP inbound")
    page.get_by_label("Shipment delayed").first.check()
    page.get_by_label("Shipment delivered").first.check()
    page.get_by_role("button", name="Add webhook").click()

    signing_secret = page.get_by_test_id("webhook-secret").inner_text().strip()
    webhook = Webhook.objects.get(url=receiver)
    assert sorted(webhook.event_types) == ["shipment.delayed", "shipment.delivered"]
    endpoint = page.get_by_test_id(f"webhook-{webhook.id}")
    assert endpoint.get_by_label("Shipment delayed").is_checked()
    assert not endpoint.get_by_label("Invoice paid").is_checked()
    check_page(page, "partner-admin-webhook-registered")

    # Change the event types on the registered endpoint.
    endpoint.get_by_label("Invoice paid").check()
    endpoint.get_by_role("button", name="Save event types").click()
    page.get_by_text("Event types saved.").wait_for()
    webhook.refresh_from_db()
    assert sorted(webhook.event_types) == [
        "invoice.paid",
        "shipment.delayed",
        "shipment.delivered",
    ]

    page.get_by_test_id(f"webhook-{webhook.id}").get_by_role(
        "button", name="Send test ping"
    ).click()
    page.get_by_text("Ping answered HTTP 204.").wait_for()
    log = page.get_by_role("table")
    ping_row = log.get_by_role("row").filter(has_text="webhook.ping")
    assert "HTTP 204" in ping_row.inner_text()
    check_page(page, "partner-admin-webhook-pinged")

    assert len(Receiver.received) == 1
    headers, body = Receiver.received[0]
    assert signature_is_valid(headers["Portal-Signature"], signing_secret, body)
    assert json.loads(body)["type"] == "webhook.ping"


def test_tenant_admin_settings_pages_fit_a_phone(page, live_server, tenant_admin):
    browser_sign_in(page, live_server.url, "boss", PASSWORD)
    page.set_viewport_size({"width": 390, "height": 844})
    found: dict[str, list[str]] = {}
    for path, name in SETTINGS_PAGES:
        page.goto(f"{live_server.url}{path}")
        page.locator("h1").wait_for()
        width = page.evaluate("document.documentElement.scrollWidth")
        screenshot(page, f"partner-admin-{name}-390")
        assert width <= 390, f"{path} is {width} px wide at 390 px"
        if violations := serious_violations(page):
            found[path] = violations

    # Found by this test: the settings tables scrolled at 390 px without keyboard focus
    # (axe scrollable-region-focusable); they are now focusable, labelled scroll regions.
    assert found == {}
