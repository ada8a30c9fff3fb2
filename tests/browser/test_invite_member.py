"""A tenant admin invites a colleague in a real browser; the colleague follows the emailed
link, chooses a password and sees exactly the account they were given."""

from __future__ import annotations

import re

import pytest
from django.core import mail

from tests.factories import PASSWORD
from tests.helpers import send_story

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def shipped(client, brenner, source_tokens, story, tenant_admin):
    send_story(client, source_tokens, story)


def test_admin_invites_and_the_invitee_joins_with_one_account(page, browser, live_server, shipped):
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill("boss")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("link", name="Settings").click()
    page.get_by_role("link", name="Members").click()
    page.get_by_label("Email").fill("ada@example.com")
    page.get_by_label("All of the tenant's accounts").uncheck()
    page.get_by_label("C-1001").check()
    page.get_by_role("button", name="Send invitation").click()
    page.get_by_text("Invitation sent to ada@example.com.").wait_for()

    link = re.search(r"http://\S+/invitations/[\w-]+/", mail.outbox[-1].body).group(0)
    invitee = browser.new_context().new_page()
    invitee.goto(link.replace("http://localhost:8000", live_server.url))
    invitee.get_by_label("First name").fill("Ada")
    invitee.get_by_label("Password", exact=True).fill("12345")
    invitee.get_by_label("Password again").fill("12345")
    invitee.get_by_role("button", name="Join").click()
    assert "too short" in invitee.get_by_role("alert").inner_text()
    invitee.get_by_label("Password", exact=True).fill("a-long-and-unusual-passphrase-77")
    invitee.get_by_label("Password again").fill("a-long-and-unusual-passphrase-77")
    invitee.get_by_role("button", name="Join").click()

    invitee.get_by_role("heading", name="Dashboard").wait_for()  # signed in, on the dashboard
    invitee.get_by_role("navigation", name="Main").get_by_role("link", name="Shipments").click()
    invitee.get_by_role("link", name="SHP-778120").wait_for()
    assert invitee.get_by_text("ada@example.com").is_visible()
    invitee.context.close()
