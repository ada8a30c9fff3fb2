"""Password reset by email: the same answer whatever the address, a link that works once,
limits that send nothing more yet answer the same, and a link built from PORTAL_BASE_URL."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.core.cache import cache
from django.test import Client

from accounts.models import AuditEntry
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db
NEW_PASSWORD = "a-long-and-unusual-passphrase-91"


@pytest.fixture(autouse=True)
def clean_counters():
    cache.clear()
    yield
    cache.clear()


def ask(email: str, address: str = "192.0.2.10"):
    return Client().post("/password-reset/", {"email": email}, REMOTE_ADDR=address)


def link_in(message) -> str:
    found = re.search(r"http://localhost:8000(/password-reset/[\w-]+/[\w-]+/)", message.body)
    assert found, message.body
    return found.group(1)


def test_the_login_page_links_to_it(client):
    page = client.get("/login/").content.decode()
    assert 'href="/password-reset/"' in page


def test_the_answer_is_the_same_whatever_the_address(customer_user):
    known = ask("customer@example.com")
    unknown = ask("nobody@example.com")

    assert known.status_code == unknown.status_code == 302
    assert known["Location"] == unknown["Location"] == "/password-reset/sent/"
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["customer@example.com"]
    sent_page = Client().get("/password-reset/sent/").content.decode()
    assert "If the address belongs to a portal account" in sent_page


def test_the_link_sets_a_new_password_once(customer_user, brenner):
    ask("customer@example.com")
    path = link_in(mail.outbox[0])
    browser = Client()

    form = browser.get(path, follow=True)
    assert form.status_code == 200 and "Choose a new password" in form.content.decode()
    done = browser.post(
        form.redirect_chain[-1][0],
        {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert done.status_code == 302 and done["Location"] == "/password-reset/complete/"

    assert Client().login(username="customer", password=NEW_PASSWORD)
    assert not Client().login(username="customer", password=PASSWORD)
    again = Client().get(path, follow=True)
    assert "This link cannot be used" in again.content.decode()
    entry = AuditEntry.objects.get(action="password_reset_asked")
    assert (entry.actor, entry.tenant_id) == ("user:customer", brenner.id)


def test_weak_passwords_are_refused(customer_user):
    ask("customer@example.com")
    browser = Client()
    form = browser.get(link_in(mail.outbox[0]), follow=True)

    answer = browser.post(
        form.redirect_chain[-1][0], {"new_password1": "1234", "new_password2": "1234"}
    )

    assert answer.status_code == 200
    assert "too short" in answer.content.decode()
    assert not Client().login(username="customer", password="1234")


def test_limits_send_nothing_more_but_answer_the_same(customer_user, tenant_admin):
    answers = [ask("customer@example.com", address=f"192.0.2.{n}") for n in range(5)]

    assert {answer["Location"] for answer in answers} == {"/password-reset/sent/"}
    assert len(mail.outbox) == 3  # MAX_PER_EMAIL in an hour

    mail.outbox.clear()
    for n in range(12):
        ask(f"someone-{n}@example.com", address="198.51.100.4")
    assert ask("boss@example.com", address="198.51.100.4").status_code == 302
    assert mail.outbox == []  # past MAX_PER_ADDRESS, not even a user's address gets one
    assert ask("boss@example.com", address="198.51.100.5").status_code == 302
    assert [message.to for message in mail.outbox] == [["boss@example.com"]]


def test_the_link_ignores_a_forged_host(customer_user, settings):
    settings.ALLOWED_HOSTS = ["*"]

    Client().post(
        "/password-reset/", {"email": "customer@example.com"}, HTTP_HOST="attacker.example"
    )

    assert "attacker.example" not in mail.outbox[0].body
    link_in(mail.outbox[0])
