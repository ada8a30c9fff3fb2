"""The user's time zone: taken from the browser on first sign-in, changed on the profile
page, never overwritten by the browser once chosen; bad input is a clear 400."""

from __future__ import annotations

import pytest

from accounts.selectors import user_time_zone
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


def sign_in(client, username="customer"):
    assert client.post("/login/", {"username": username, "password": PASSWORD}).status_code == 302


def test_first_page_asks_the_browser_and_the_answer_is_kept(client, customer_user):
    sign_in(client)
    assert "data-time-zone-url" in client.get("/profile/").content.decode()

    response = client.post("/profile/time-zone", {"time_zone": "Europe/Berlin"})

    assert response.status_code == 204
    assert user_time_zone(customer_user) == "Europe/Berlin"
    page = client.get("/profile/").content.decode()
    assert "data-time-zone-url" not in page  # known now: not asked again
    assert "Europe/Berlin" in page and ("CET" in page or "CEST" in page)


def test_a_chosen_zone_is_not_overwritten_by_the_browser(client, customer_user):
    sign_in(client)
    client.post("/profile/", {"time_zone": "Asia/Tokyo"})

    client.post("/profile/time-zone", {"time_zone": "Europe/Berlin"})

    assert user_time_zone(customer_user) == "Asia/Tokyo"


def test_the_zone_follows_the_user_to_the_next_sign_in(client, customer_user):
    sign_in(client)
    client.post("/profile/", {"time_zone": "America/Chicago"})
    client.post("/logout/")

    sign_in(client)

    assert client.session["time_zone"] == "America/Chicago"


@pytest.mark.parametrize("zone", ["Mars/Olympus", "", "../../etc/passwd", "x" * 200])
def test_unknown_zones_are_refused(client, customer_user, zone):
    sign_in(client)

    page = client.post("/profile/", {"time_zone": zone})
    browser = client.post("/profile/time-zone", {"time_zone": zone})

    assert page.status_code == 400 and "Choose a time zone from the list" in page.content.decode()
    assert browser.status_code == 400
    assert browser["Content-Type"] == "application/problem+json"
    assert user_time_zone(customer_user) == ""


def test_anonymous_cannot_set_a_zone(client):
    assert client.post("/profile/time-zone", {"time_zone": "Europe/Berlin"}).status_code == 302
    assert client.get("/profile/").status_code == 302
