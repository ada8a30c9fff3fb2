"""TOTP second factor (django-otp): enrolment with a real code, verification after the
password, recovery codes that work once, who must use it, and what an unverified session
can reach."""

from __future__ import annotations

import base64
import re

import pytest
from django.core.cache import cache
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import AuditEntry, Tenant
from tests.factories import PASSWORD
from tests.helpers import sign_in_verified

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def clean_counters():
    cache.clear()
    yield
    cache.clear()


def code_of(device: TOTPDevice, *, step_offset: int = 0) -> str:
    """The code an authenticator app shows now (or `step_offset` 30-second steps later)."""
    value = totp(
        device.bin_key, step=device.step, t0=device.t0, digits=device.digits, drift=step_offset
    )
    return f"{value:0{device.digits}d}"


def sign_in(username: str) -> Client:
    browser = Client()
    answer = browser.post("/login/", {"username": username, "password": PASSWORD})
    assert answer.status_code == 302, answer.content.decode()
    return browser


def enrol(browser: Client, username: str) -> list[str]:
    page = browser.get("/account/second-factor/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "otpauth://totp/" in text and "<svg" in text
    device = TOTPDevice.objects.get(user__username=username, confirmed=False)
    secret = re.search(r"Key: <code>([A-Z2-7=]+)</code>", text).group(1)
    assert base64.b32decode(secret) == device.bin_key
    shown = browser.post("/account/second-factor/", {"token": code_of(device)})
    assert shown.status_code == 200, shown.content.decode()
    return re.findall(r"<li><code>(\w+)</code></li>", shown.content.decode())


def test_a_member_may_enrol_and_is_then_asked_after_the_password(customer_user):
    browser = sign_in("customer")
    assert browser.get("/shipments/").status_code == 200  # optional: not asked yet

    codes = enrol(browser, "customer")
    assert len(codes) == 10
    assert browser.get("/shipments/").status_code == 200  # enrolling verified the session
    assert AuditEntry.objects.filter(action="second_factor_enrolled").count() == 1

    later = sign_in("customer")
    answer = later.get("/shipments/")
    assert answer.status_code == 302
    assert answer["Location"].startswith("/account/second-factor/verify/")
    device = TOTPDevice.objects.get(user=customer_user, confirmed=True)
    assert later.post("/account/second-factor/verify/", {"token": "000000"}).status_code == 400
    device.refresh_from_db()
    device.throttling_failure_count = 0
    device.throttling_failure_timestamp = None
    device.save()
    verified = later.post(
        "/account/second-factor/verify/",
        {"token": code_of(device, step_offset=1), "next": "/shipments/"},
    )
    assert verified.status_code == 302 and verified["Location"] == "/shipments/"
    assert later.get("/shipments/").status_code == 200


def test_a_recovery_code_works_once(customer_user):
    codes = enrol(sign_in("customer"), "customer")

    first = sign_in("customer")
    assert first.post("/account/second-factor/verify/", {"token": codes[0]}).status_code == 302
    assert first.get("/shipments/").status_code == 200

    second = sign_in("customer")
    assert second.post("/account/second-factor/verify/", {"token": codes[0]}).status_code == 400
    assert second.get("/shipments/").status_code == 302
    assert StaticToken.objects.filter(device__user=customer_user).count() == 9


def test_staff_and_platform_admins_must_enrol_before_anything(cs_staff, platform_admin):
    for username, page in (("cs", "/exceptions/"), ("root", "/admin/")):
        browser = sign_in(username)
        answer = browser.get(page)
        assert answer.status_code == 302
        assert answer["Location"].startswith("/account/second-factor/?next=")
        assert browser.get("/api/v1/shipments").status_code == 401
        assert browser.get("/api/v1/shipments")["Content-Type"] == "application/problem+json"

        enrol(browser, username)

        assert browser.get(page).status_code == 200


def test_a_tenant_may_require_it_of_its_members(customer_user, other_tenant_user, brenner):
    Tenant.objects.filter(pk=brenner.pk).update(require_second_factor=True)

    assert sign_in("customer").get("/shipments/").status_code == 302
    assert sign_in("nordwind-user").get("/shipments/").status_code == 200


def test_an_enrolled_but_unverified_session_cannot_add_a_device(customer_user):
    enrol(sign_in("customer"), "customer")
    browser = sign_in("customer")

    answer = browser.get("/account/second-factor/")
    assert answer.status_code == 302 and "/verify/" in answer["Location"]
    browser.post("/account/second-factor/", {"token": "123456"})
    assert TOTPDevice.objects.filter(user=customer_user).count() == 1


def test_a_session_older_than_the_policy_is_asked_too(customer_user, brenner):
    browser = sign_in("customer")
    Tenant.objects.filter(pk=brenner.pk).update(require_second_factor=True)

    assert browser.get("/shipments/").status_code == 302


def test_the_next_target_stays_on_the_site(customer_user):
    codes = enrol(sign_in("customer"), "customer")
    browser = sign_in("customer")

    answer = browser.post(
        "/account/second-factor/verify/", {"token": codes[1], "next": "https://evil.example/"}
    )

    assert answer.status_code == 302 and answer["Location"] == "/"


def test_the_test_helper_verifies_a_session_like_django_otp_login(cs_staff):
    browser = Client()
    sign_in_verified(browser, cs_staff)

    assert browser.get("/exceptions/").status_code == 200
    plain = Client()
    plain.force_login(cs_staff)  # a plain force_login is not verified
    assert plain.get("/exceptions/").status_code == 302


def test_partner_tokens_need_no_second_factor(client, partner_token, brenner):
    Tenant.objects.filter(pk=brenner.pk).update(require_second_factor=True)

    answer = client.get("/api/v1/shipments", HTTP_AUTHORIZATION=f"Bearer {partner_token}")

    assert answer.status_code == 200


def test_codes_are_checked_in_time(customer_user):
    """A code from the app's previous-but-one window is refused (drift tolerance is 1)."""
    browser = sign_in("customer")
    browser.get("/account/second-factor/")
    device = TOTPDevice.objects.get(user=customer_user, confirmed=False)

    stale = browser.post("/account/second-factor/", {"token": code_of(device, step_offset=-5)})

    assert stale.status_code == 400


def test_a_user_whose_devices_were_removed_enrols_again(cs_staff):
    enrol(sign_in("cs"), "cs")
    browser = sign_in("cs")
    TOTPDevice.objects.filter(user=cs_staff).delete()  # lost phone: a platform admin's fix
    StaticToken.objects.filter(device__user=cs_staff).delete()

    answer = browser.get("/exceptions/", follow=True)

    assert answer.redirect_chain[-1][0].startswith("/account/second-factor/?next=")
    enrol(browser, "cs")
    assert browser.get("/exceptions/").status_code == 200
