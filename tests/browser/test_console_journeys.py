"""Journeys in a real Chromium: the customer-service agent searches across tenants, opens
an exception and leaves a note; the platform admin replays a dead letter. Each page they
pass is checked with axe (0 serious or critical) and saved as a screenshot."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import CustomerAccount
from integration.models import InboxEvent, InboxState
from tests.browser.axe_console import screenshot, serious_violations
from tests.factories import PASSWORD, ShipmentFactory, StaffFactory, UserFactory
from tests.helpers import browser_sign_in, send_story
from visibility.models import Shipment, ShipmentException

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def two_tenants(client, brenner, nordwind, source_tokens, story):
    send_story(client, source_tokens, story)
    ShipmentFactory(
        shipment_id="SHP-2001001",
        customer_account=CustomerAccount.objects.get(number="C-2001"),
        tracking_numbers=["JJD0002249999"],
    )
    ShipmentException.objects.create(
        shipment=Shipment.objects.get(shipment_id="SHP-778120"),
        reason="damaged",
        opened_by="milestone",
        detail="Pallet damaged in handling",
        opened_at=timezone.now() - timedelta(hours=5),
    )


def sign_in(page, live_server, username):
    browser_sign_in(page, live_server.url, username, PASSWORD)


def check_page(page, name: str) -> None:
    screenshot(page, name)
    assert serious_violations(page) == [], name


def test_agent_searches_across_tenants_opens_the_exception_and_adds_a_note(
    page, live_server, two_tenants
):
    StaffFactory(username="cs-agent")
    sign_in(page, live_server, "cs-agent")

    page.get_by_role("link", name="Console").click()
    page.get_by_role("heading", name="Customer-service console").wait_for()
    check_page(page, "cs-console")
    page.get_by_label("Find by any reference").last.fill("JJD000224")
    page.get_by_role("button", name="Search all customers").click()

    results = page.get_by_test_id("search-results")
    results.wait_for()
    check_page(page, "cs-search-across-tenants")
    brenner_row = results.get_by_role("row").filter(has_text="SHP-778120")
    nordwind_row = results.get_by_role("row").filter(has_text="SHP-2001001")
    assert "Brenner Tools" in brenner_row.inner_text() and "C-1001" in brenner_row.inner_text()
    assert "Nordwind Retail" in nordwind_row.inner_text()
    assert "Tracking number" in brenner_row.inner_text()

    page.goto(f"{live_server.url}/exceptions/")
    queue = page.get_by_test_id("exception-queue")
    row = queue.get_by_role("row").filter(has_text="SHP-778120")
    assert "Brenner Tools" in row.inner_text() and "C-1001" in row.inner_text()
    check_page(page, "cs-exception-queue")
    row.get_by_role("link", name="SHP-778120").click()

    page.get_by_label("Add a note").fill("Called the consignee: replacement ships tomorrow.")
    page.get_by_role("button", name="Add note").click()
    page.get_by_text("Called the consignee: replacement ships tomorrow.").wait_for()
    check_page(page, "cs-exception-with-note")

    page.goto(f"{live_server.url}/console/")
    page.get_by_role("link", name=re.compile(r"View Brenner Tools.s portal")).click()
    page.get_by_text("read-only").first.wait_for()
    assert page.get_by_role("link", name="SHP-778120").is_visible()
    assert not page.get_by_text("SHP-2001001").count()
    check_page(page, "cs-tenant-read-only")


def test_platform_admin_replays_a_dead_letter(page, live_server, two_tenants):
    UserFactory(username="root", platform_admin=True)
    InboxEvent.objects.filter(event_id="tms-demo-0003").update(
        state=InboxState.DEAD, attempts=5, last_error="ValueError: eta out of range"
    )
    sign_in(page, live_server, "root")

    page.get_by_role("link", name="Integration health").first.click()
    page.get_by_role("heading", name="Integration health").wait_for()
    assert page.get_by_test_id("dead-count").inner_text() == "1"
    check_page(page, "platform-integration-health")
    page.get_by_role("link", name="List, replay or discard").click()

    table = page.get_by_test_id("dead-letters")
    assert "ValueError: eta out of range" in table.inner_text()
    check_page(page, "platform-dead-letters")
    page.get_by_role("link", name="tms:tms-demo-0003").click()
    assert "ValueError: eta out of range" in page.get_by_test_id("dead-error").inner_text()
    check_page(page, "platform-dead-letter-detail")
    page.get_by_role("button", name="Replay this event").click()

    page.get_by_text("1 dead letter(s) re-queued for processing.").wait_for()
    assert "No dead letters" in page.get_by_test_id("dead-letters").inner_text()
    assert InboxEvent.objects.get(event_id="tms-demo-0003").state != InboxState.DEAD

    for path, name in (
        ("/platform/held/", "platform-held"),
        ("/platform/tenants/", "platform-tenants"),
        ("/platform/sources/", "platform-sources"),
    ):
        page.goto(f"{live_server.url}{path}")
        check_page(page, name)


def test_tenant_admin_settings_pages_pass_axe(page, live_server, two_tenants, tenant_admin):
    sign_in(page, live_server, "boss")
    for path, name in (
        ("/settings/members/", "settings-members"),
        ("/settings/tokens/", "settings-tokens"),
        ("/settings/notifications/", "settings-notifications"),
        ("/settings/audit/", "settings-audit"),
    ):
        page.goto(f"{live_server.url}{path}")
        page.get_by_role("navigation", name="Settings").wait_for()
        check_page(page, name)
