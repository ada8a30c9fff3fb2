"""The platform admin in a real Chromium: the health page's business-SLA alert, then
"what happened to event X" from its search box; each page checked with axe (0 serious or
critical) and saved as a screenshot."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.browser.axe_console import screenshot, serious_violations
from tests.factories import PASSWORD, UserFactory
from tests.helpers import browser_sign_in, send_story
from visibility.models import Shipment, ShipmentException

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def check_page(page, name: str) -> None:
    screenshot(page, name)
    assert serious_violations(page) == [], name


def test_platform_admin_sees_an_sla_alert_and_follows_an_event(
    page, live_server, client, brenner, source_tokens, story
):
    send_story(client, source_tokens, story)
    shipment = Shipment.objects.get(shipment_id="SHP-778120")
    ShipmentException.objects.create(
        shipment=shipment,
        reason="damaged",
        opened_by="milestone",
        opened_at=timezone.now() - timedelta(hours=50),
        customer_account_id=shipment.customer_account_id,
        source="tms",
    )
    UserFactory(username="root", platform_admin=True)
    browser_sign_in(page, live_server.url, "root", PASSWORD)

    page.goto(f"{live_server.url}/operations/integration/")
    alert = page.get_by_test_id("sla-alerts")
    alert.wait_for()
    assert "Exception aging" in alert.inner_text()
    assert "Brenner Tools" in alert.inner_text()
    check_page(page, "platform-health-sla-alert")

    page.get_by_label("What happened to event").fill("tms-demo-0010")
    page.get_by_role("button", name="Follow").click()
    trace = page.get_by_test_id("event-trace")
    trace.wait_for()
    assert "tms:tms-demo-0010" in trace.inner_text()
    assert "SHP-778120" in trace.inner_text()
    check_page(page, "platform-event-trace")
