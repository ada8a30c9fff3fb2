"""Sign-in: audited, throttled per username and per address, CSRF-protected."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.test import Client

from accounts.models import AuditEntry
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def clean_counters():
    cache.clear()
    yield
    cache.clear()


def sign_in(client, username, password, address="10.0.0.1"):
    return client.post("/login/", {"username": username, "password": password}, REMOTE_ADDR=address)


def test_sign_in_and_failed_sign_in_are_audited(client, customer_user, brenner):
    sign_in(client, "customer", "wrong")
    sign_in(client, "customer", PASSWORD)

    entries = list(
        AuditEntry.objects.order_by("id").values_list("action", "actor", "tenant_id", "ip_address")
    )
    assert entries == [
        ("sign_in_failed", "user:customer", brenner.id, "10.0.0.1"),
        ("sign_in", "user:customer", brenner.id, "10.0.0.1"),
    ]


def test_guessing_a_password_is_throttled_per_username(client, customer_user):
    for attempt in range(5):
        sign_in(client, "customer", f"guess-{attempt}", address=f"10.0.1.{attempt}")

    response = sign_in(client, "customer", PASSWORD, address="10.0.2.1")

    assert response.status_code == 200
    assert "Too many failed sign-ins" in response.content.decode()
    assert "_auth_user_id" not in client.session
    assert AuditEntry.objects.filter(action="sign_in_throttled").count() == 1


def test_guessing_from_one_address_is_throttled_across_usernames(client, customer_user):
    for attempt in range(5):
        sign_in(client, f"someone-{attempt}", "x", address="10.9.9.9")

    response = sign_in(client, "customer", PASSWORD, address="10.9.9.9")

    assert "Too many failed sign-ins" in response.content.decode()
    assert sign_in(Client(), "customer", PASSWORD, address="10.9.9.10").status_code == 302


def test_login_form_needs_csrf(customer_user):
    browser = Client(enforce_csrf_checks=True)

    response = browser.post("/login/", {"username": "customer", "password": PASSWORD})

    assert response.status_code == 403


def test_the_audit_log_cannot_be_edited_or_deleted(customer_user):
    from django.db import DatabaseError, transaction

    entry = AuditEntry.objects.create(action="sign_in", actor="user:customer")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEntry.objects.filter(id=entry.id).update(actor="user:someone-else")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEntry.objects.filter(id=entry.id).delete()
