"""The customer's portal in a real Chromium: the journey dashboard -> late tile -> late
shipment -> reason -> document download, the collapsing menu at 390 px, and the page
weight (HTML + CSS + JS) of each page. Axe and page-level overflow on every page:
tests/browser/test_every_page.py. Screenshots go to test-results/."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from django.utils import timezone

from accounts.services import user_create
from tests.factories import (
    PASSWORD,
    DocumentFactory,
    FreightChargeFactory,
    InvoiceFactory,
    OrderFactory,
    ShipmentFactory,
    account,
)
from visibility.models import Document, ExceptionNote, Milestone, ShipmentException

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

RESULTS = Path(__file__).resolve().parents[2] / "test-results"
PAGE_WEIGHT_LIMIT = 150 * 1024


@pytest.fixture
def portal_data(brenner, nordwind, customer_user):
    now = timezone.now()
    order = OrderFactory(order_number="SO-JOURNEY", customer_account=account("C-1001"))
    late = ShipmentFactory(
        shipment_id="SHP-LATE-JOURNEY",
        customer_account=account("C-1001"),
        orders=[order],
        planned_pickup_at=now - dt.timedelta(days=3),
        planned_delivery_at=now - dt.timedelta(days=1),
        milestones=[Milestone.PICKED_UP, Milestone.IN_TRANSIT],
        delayed_by=dt.timedelta(days=2),
    )
    record = ShipmentException.objects.get(shipment=late, reason="weather")
    ExceptionNote.objects.create(
        exception=record,
        text="Storm over the A7; the carrier re-routes via Kassel.",
        visible_to_customer=True,
        created_at=now,
    )
    DocumentFactory(
        shipment=late,
        document_id="DOC-POD-JOURNEY",
        document_type=Document.DocumentType.POD,
        content=b"%PDF-1.4\n% proof of delivery of the first stop\n",
    )
    for index in range(30):
        ShipmentFactory(
            shipment_id=f"SHP-BULK-{index:02d}",
            customer_account=account("C-1001" if index % 2 else "C-1002"),
            planned_pickup_at=now - dt.timedelta(days=3 + 2 * index),
            planned_delivery_at=now - dt.timedelta(days=1 + 2 * index),
            milestones=[Milestone.PICKED_UP, Milestone.IN_TRANSIT, Milestone.DELIVERED],
        )
    FreightChargeFactory(shipment=late)
    InvoiceFactory(
        invoice_number="INV-JOURNEY",
        customer_account=account("C-1001"),
        order_numbers=["SO-JOURNEY"],
    )
    user_create(username="finance", password=PASSWORD, tenant=brenner, finance=True, role="member")
    ShipmentFactory(shipment_id="SHP-NORDWIND", customer_account=account("C-2001"))


def sign_in(page, live_server, username="customer"):
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Dashboard").wait_for()


def shot(page, name: str) -> None:
    RESULTS.mkdir(exist_ok=True)
    page.screenshot(path=str(RESULTS / f"{name}.png"), full_page=True)


def test_customer_journey_from_the_dashboard_to_the_proof_of_delivery(
    page, live_server, portal_data
):
    page.set_viewport_size({"width": 1366, "height": 900})
    sign_in(page, live_server)
    shot(page, "customer-1-dashboard")

    late_tile = page.get_by_test_id("tile").filter(has_text="Late")
    assert late_tile.locator(".count").inner_text() == "1"
    late_tile.click()
    page.get_by_role("heading", name="Shipments").wait_for()
    assert page.get_by_test_id("count").inner_text() == "1 shipment"
    assert page.get_by_role("link", name="SHP-NORDWIND").count() == 0
    shot(page, "customer-2-late-list")

    page.get_by_role("link", name="SHP-LATE-JOURNEY").click()
    reason = page.get_by_test_id("reason")
    reason.wait_for()
    assert "Why it is late" in reason.inner_text()
    assert "Weather" in reason.inner_text()
    assert "Storm over the A7" in reason.inner_text()
    assert "late against the promise" in page.get_by_test_id("slip").inner_text()
    assert "last carrier update" in page.get_by_test_id("freshness").inner_text()
    shot(page, "customer-3-late-shipment")

    with page.expect_download() as download:
        page.get_by_role("link", name="DOC-POD-JOURNEY.pdf").click()
    saved = RESULTS / "DOC-POD-JOURNEY.pdf"
    download.value.save_as(saved)
    assert saved.read_bytes().startswith(b"%PDF")


def test_the_browser_time_zone_is_taken_on_first_sign_in(browser, live_server, portal_data):
    context = browser.new_context(timezone_id="Asia/Tokyo")
    page = context.new_page()
    try:
        # Waited for on the wire: a string predicate would be evaluated by the page, which
        # the strict CSP forbids (no 'unsafe-eval').
        with page.expect_response(
            lambda response: (
                "/profile/time-zone" in response.url and response.request.method == "POST"
            )
        ) as posted:
            sign_in(page, live_server)
        assert posted.value.ok
        page.goto(f"{live_server.url}/profile/")
        assert page.get_by_test_id("current-zone").inner_text() == "Asia/Tokyo"
        page.goto(f"{live_server.url}/shipments/SHP-LATE-JOURNEY/")
        assert "JST" in page.get_by_test_id("eta").inner_text()
    finally:
        context.close()


PAGES = {
    "dashboard": "/",
    "shipments": "/shipments/",
    "shipments-filtered": "/shipments/?flag=late&more=1&destination=Munich&sort=-eta",
    "shipment": "/shipments/SHP-LATE-JOURNEY/",
    "order": "/orders/SO-JOURNEY/",
    "orders": "/orders/",
    "invoices": "/invoices/",
    "invoice": "/invoices/INV-JOURNEY/",
    "profile": "/profile/",
    "search": "/search/?q=SHP-LATE",
    "not-found": "/no/such/page/",
}


def _weigh(page, url: str, assets: dict[str, int]) -> int:
    """The page's HTML plus every stylesheet and script it uses. The browser caches those
    after the first page, so their sizes are remembered by URL (`assets`) and counted
    for each page that loads them from its cache too."""
    html: list[int] = []

    def record(response) -> None:
        kind = response.request.resource_type
        if kind == "document":
            html.append(len(response.body()))
        elif kind in {"stylesheet", "script"}:
            assets[response.url] = len(response.body())

    page.on("response", record)
    page.goto(url, wait_until="networkidle")
    page.remove_listener("response", record)
    used = page.evaluate(
        "[...document.querySelectorAll('link[rel=stylesheet], script[src]')]"
        ".map(e => e.href || e.src)"
    )
    return sum(html) + sum(assets.get(address, 0) for address in used)


def test_every_customer_page_stays_light_and_the_menu_collapses_at_390_px(
    browser, live_server, portal_data
):
    """Axe and overflow on every page, for every persona: tests/browser/test_every_page.py."""
    width = 390
    context = browser.new_context(viewport={"width": width, "height": 844}, timezone_id="UTC")
    page = context.new_page()
    weights: dict[str, int] = {}
    assets: dict[str, int] = {}
    try:
        sign_in(page, live_server, "finance")
        for name, path in PAGES.items():
            weights[name] = _weigh(page, f"{live_server.url}{path}", assets)
            shot(page, f"page-{name}-{width}")
        page.goto(f"{live_server.url}/")
        menu = page.get_by_role("button", name="Menu")
        assert menu.is_visible()
        assert not page.get_by_role("searchbox", name="Find by any reference").is_visible()
        menu.click()
        assert page.get_by_role("searchbox", name="Find by any reference").is_visible()
        assert page.get_by_role("button", name="Sign out").is_visible()
        assert page.get_by_role("link", name="Dashboard").get_attribute("aria-current") == "page"
        shot(page, "menu-open-390")
    finally:
        context.close()
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "page-weights.json").write_text(json.dumps(weights, indent=2))
    heavy = {name: size for name, size in weights.items() if size > PAGE_WEIGHT_LIMIT}
    assert heavy == {}, f"pages over 150 KB: {heavy}"
