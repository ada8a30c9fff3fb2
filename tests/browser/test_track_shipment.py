"""A customer signs in in a real browser and finds their shipment."""

from __future__ import annotations

import pytest

from tests.factories import PASSWORD
from tests.helpers import send_story

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def shipped(client, brenner, source_tokens, story, customer_user, other_tenant_user):
    send_story(client, source_tokens, story)


def sign_in(page, live_server, username):
    page.goto(f"{live_server.url}/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_customer_signs_in_and_finds_the_shipment(page, live_server, shipped):
    sign_in(page, live_server, "customer")

    page.get_by_role("heading", name="Dashboard").wait_for()
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Shipments").click()
    page.get_by_role("link", name="SHP-778120").click()

    page.get_by_role("heading", name="Shipment SHP-778120").wait_for()
    assert page.get_by_test_id("status").inner_text() == "Delivered"
    timeline = page.get_by_test_id("timeline")
    assert timeline.get_by_text("Received by K. Huber").is_visible()
    assert timeline.get_by_text("Out for delivery").is_visible()


def test_other_tenants_user_does_not_find_it(page, live_server, shipped):
    sign_in(page, live_server, "nordwind-user")

    page.goto(f"{live_server.url}/shipments/")
    page.get_by_role("heading", name="Shipments").wait_for()
    assert page.get_by_text("No shipments to show.").is_visible()
    response = page.goto(f"{live_server.url}/shipments/SHP-778120/")
    assert response.status == 404


def test_wrong_password_is_refused(page, live_server, shipped):
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill("customer")
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()

    assert page.get_by_role("alert").is_visible()
